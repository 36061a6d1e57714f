// Joins a request another PoP forwarded here (a server stream) to the stream that carries it on (to the next PoP or to
// the tunnel): body, trailers, 100 Continue and upgraded bytes both ways, with backpressure, and resets passed along.
import { constants as h2, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Headers } from 'burrow';

/** Answers a forwarded request with an error the landing PoP renders as its status page (with the visitor's ray id). */
export function answerError(stream: ServerHttp2Stream, status: number, detail: string): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(h2.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond({ ':status': status, [Headers.originError]: detail, 'cache-control': 'no-store' }, { endStream: true });
}

/**
 * Joins the two streams. When the outgoing one breaks before its answer began, the incoming one is reset rather than
 * answered, so the PoP the visitor landed at sees a broken tunnel stream, as it would for a connection of its own, and
 * applies the edge's retry rule (an idempotent request with no body is sent once more, anything else gets a 502).
 */
export function bridge(incoming: ServerHttp2Stream, outgoing: ClientHttp2Stream): void {
  // Request: the body (or upgraded bytes) streams on; trailers arrive before the end and leave after it.
  if (!incoming.endAfterHeaders) {
    let trailers: IncomingHttpHeaders | undefined;
    incoming.once('trailers', (received) => (trailers = received));
    outgoing.once('wantTrailers', () => outgoing.sendTrailers(fields(trailers)));
    incoming.pipe(outgoing);
  }
  outgoing.once('continue', () => {
    if (!incoming.headersSent && !incoming.destroyed) incoming.additionalHeaders({ ':status': 100 });
  });
  outgoing.once('response', (headers, flags) => {
    if (incoming.destroyed || incoming.closed) return;
    const ended = (flags & h2.NGHTTP2_FLAG_END_STREAM) !== 0;
    const out = fields(headers);
    out[':status'] = headers[':status'];
    incoming.respond(out, { endStream: ended, waitForTrailers: !ended });
    if (ended) return;
    let trailers: IncomingHttpHeaders | undefined;
    outgoing.once('trailers', (received) => (trailers = received));
    incoming.once('wantTrailers', () => incoming.sendTrailers(fields(trailers)));
    outgoing.pipe(incoming);
  });
  // Errors end in 'close' on both sides, which is where they are handled.
  outgoing.on('error', () => undefined);
  incoming.on('error', () => undefined);
  outgoing.once('close', () => {
    if (incoming.destroyed || incoming.closed) return;
    // Broken before the answer, or cut short after it began: pass the reset on (a cut-short answer must never be
    // taken for a whole one).
    if (!incoming.headersSent || outgoing.rstCode !== h2.NGHTTP2_NO_ERROR || !outgoing.readableEnded) incoming.close(outgoing.rstCode || h2.NGHTTP2_INTERNAL_ERROR);
  });
  incoming.once('close', () => {
    if (!outgoing.closed && !outgoing.destroyed) outgoing.close(h2.NGHTTP2_CANCEL);
  });
}

/** The regular (non-pseudo) fields of a header block. */
function fields(headers: IncomingHttpHeaders | undefined): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (name.charCodeAt(0) !== 58) out[name] = headers[name];
  return out;
}

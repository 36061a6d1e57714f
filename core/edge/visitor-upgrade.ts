// Carries a visitor's Upgrade (WebSocket) request over one tunnel stream marked `burrow-upgrade`, then bytes both ways.
import { ServerResponse, type IncomingMessage } from 'node:http';
import { constants as h2, type ClientHttp2Stream, type IncomingHttpHeaders as Http2Headers } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Logger } from '../kernel/logger.ts';
import { Headers } from '../transport/protocol.ts';
import { isHopByHop } from '../transport/hop-by-hop.ts';
import { originErrorPage, statusPage } from './status-pages.ts';
import { requestHeaders, responseHeaders } from './forwarding-headers.ts';
import type { OpenStream, VisitorContext, VisitorUpgrade } from './visitor-context.ts';


/**
 * A response bound to the upgrade socket, so middleware, error pages and a refused upgrade
 * answer the visitor as for any request. It closes the socket once written: after a refused
 * upgrade the connection is in an unknown state.
 */
export function upgradeResponse(req: IncomingMessage, socket: Duplex): ServerResponse {
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket as never);
  res.once('finish', () => (socket as Duplex & { destroySoon?: () => void }).destroySoon?.() ?? socket.end());
  return res;
}

export function forwardUpgrade(ctx: VisitorContext, upgrade: VisitorUpgrade, open: OpenStream, log: Logger): void {
  const { req, res, ray } = ctx;
  const { socket, head } = upgrade;
  const headers = requestHeaders(ctx);
  headers[Headers.upgrade] = String(req.headers.upgrade);
  let stream: ClientHttp2Stream;
  try {
    const opened = open(headers, { endStream: false });
    if (!opened) return statusPage(res, 530, ray);
    stream = opened;
  } catch (error) {
    log.warn({ err: (error as Error).message, ray }, 'could not open a stream toward the connector');
    return statusPage(res, 502, ray);
  }
  let switched = false;

  // Visitor bytes flow from the start: whatever it sends before the 101 waits in the tunnel.
  if (head.length) stream.write(head);
  socket.pipe(stream);

  stream.once('response', (answer) => {
    if (originErrorPage(res, answer, stream, ray)) return;
    const status = Number(answer[':status']);
    if (status === 200 && answer[Headers.upgrade]) {
      switched = true;
      socket.write(switchingProtocols(answer, ray));
      stream.pipe(socket);
      return;
    }
    // Refused: an ordinary response, and the connection closes after it.
    res.writeHead(status, responseHeaders(answer, ray));
    stream.pipe(res);
  });
  stream.once('trailers', (trailers) => {
    if (!switched) res.addTrailers(Object.fromEntries(Object.entries(trailers).filter(([name]) => !name.startsWith(':'))) as Record<string, string>);
  });
  stream.on('error', (error) => {
    log.debug({ err: error.message, ray }, 'upgraded tunnel stream failed');
    if (!switched) statusPage(res, 502, ray, 'The connection to the tunnel broke while handling this request.');
  });
  stream.once('close', () => {
    if (!switched) return;
    // A reset or a dead tunnel connection drops the visitor at once; a clean end flushes first.
    const clean = stream.rstCode === h2.NGHTTP2_NO_ERROR && stream.readableEnded;
    if (clean) (socket as Duplex & { destroySoon?: () => void }).destroySoon?.();
    else socket.destroy();
  });
  socket.once('close', () => {
    if (!stream.closed && !stream.destroyed) stream.close(h2.NGHTTP2_CANCEL);
  });
}

/** The 101 the visitor gets: the origin's headers (Sec-WebSocket-Accept, -Protocol ...) plus the ray. */
function switchingProtocols(answer: Http2Headers, ray: string): string {
  const lines = ['HTTP/1.1 101 Switching Protocols', `Upgrade: ${answer[Headers.upgrade]}`, 'Connection: Upgrade'];
  for (const name in answer) {
    if (isHopByHop(name, undefined, { dropReserved: true })) continue;
    const value = answer[name];
    for (const item of Array.isArray(value) ? value : [value]) if (item !== undefined) lines.push(`${name}: ${item}`);
  }
  lines.push(`${Headers.ray}: ${ray}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

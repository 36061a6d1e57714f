// The short pages the edge answers with when it cannot deliver or refuses a request (400, 404, 431, 502, 530 ...).
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { Headers } from '../transport/protocol.ts';

const reasons: Record<number, { title: string; detail: string }> = {
  400: { title: 'Bad request', detail: 'The request could not be understood by the edge.' },
  403: { title: 'Forbidden', detail: 'Access to this site is not allowed from your address.' },
  404: { title: 'Unknown hostname', detail: 'No tunnel is routed to this hostname.' },
  408: { title: 'Request timeout', detail: 'The request did not arrive in time.' },
  429: { title: 'Too many requests', detail: 'Slow down: this address sent too many requests.' },
  431: { title: 'Request header fields too large', detail: 'The request head is too large or has too many header fields.' },
  501: { title: 'Not implemented', detail: 'The edge does not support this request framing.' },
  502: { title: 'Bad gateway', detail: 'The origin refused or broke the connection, or its TLS certificate failed verification.' },
  503: { title: 'Service unavailable', detail: 'The service is shutting down or has no ingress rule for this request.' },
  504: { title: 'Gateway timeout', detail: 'The origin did not connect or answer in time.' },
  508: { title: 'Loop detected', detail: 'The request went round the network of PoPs without reaching its tunnel.' },
  530: { title: 'Tunnel offline', detail: 'This hostname is routed to a tunnel, but no connector for it is online.' },
};

export function statusPage(res: ServerResponse, status: number, ray: string, detail?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = pageBody(status, ray, detail);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    'burrow-ray': ray,
  });
  res.end(res.req?.method === 'HEAD' ? undefined : body);
}

/**
 * The same page as a whole HTTP/1.1 response that closes the connection, for a socket Node's parser gave up on
 * (no ServerResponse exists for it).
 */
export function rawStatusPage(status: number, ray: string, detail?: string): string {
  const body = pageBody(status, ray, detail);
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `content-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\n` +
    `burrow-ray: ${ray}\r\nconnection: close\r\n\r\n${body}`
  );
}

function pageBody(status: number, ray: string, detail?: string): string {
  const reason = reasons[status] ?? { title: 'Error', detail: '' };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${status} ${reason.title}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#222}code{background:#f3f3f3;padding:.1em .3em}</style>
</head><body><h1>${status} ${reason.title}</h1><p>${escapeHtml(detail ?? reason.detail)}</p>
<p>Ray ID: <code>${escapeHtml(ray)}</code></p></body></html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * When the connector answered with its own error (it could not reach the origin: `burrow-origin-error`), renders
 * that status as the edge's page and drains the stream; returns whether it did.
 */
export function originErrorPage(res: ServerResponse, answer: IncomingHttpHeaders, stream: ClientHttp2Stream, ray: string): boolean {
  const originError = answer[Headers.originError];
  if (!originError) return false;
  stream.resume();
  statusPage(res, Number(answer[':status']), ray, String(originError));
  return true;
}

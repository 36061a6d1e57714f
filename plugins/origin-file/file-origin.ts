// A static-file origin: GET/HEAD under one folder via `send` (Range, ETag, Last-Modified), never escaping it.
import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import send from 'send';
import type { Origin, RequestContext } from 'burrow';

export interface FileOriginOptions {
  /** The folder served, already resolved to its real path (no symlinks). */
  readonly root: string;
  /** Serve `index.html` of the root for missing paths without a file extension (single-page apps). */
  readonly spa: boolean;
}

/** Where a request path leads inside the root. */
type Located =
  | { kind: 'file'; real: string }
  | { kind: 'redirect'; location: string }
  | { kind: 'missing' }
  | { kind: 'refused'; status: 400 | 404; reason: string };

const INDEX = 'index.html';

export class FileOrigin implements Origin {
  constructor(private readonly options: FileOriginOptions) {}

  async serve({ req, res }: RequestContext): Promise<void> {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD') {
      req.resume();
      return plain(res, 405, 'Method Not Allowed: static files answer GET and HEAD only', { allow: 'GET, HEAD' });
    }
    const url = req.url || '/';
    const queryAt = url.indexOf('?');
    const pathname = queryAt < 0 ? url : url.slice(0, queryAt);
    let found = await this.locate(pathname);
    if (found.kind === 'missing' && this.options.spa && !/\.[^/]*$/.test(pathname)) {
      found = await this.locate('/');
      if (found.kind === 'redirect') found = { kind: 'missing' };
    }
    switch (found.kind) {
      case 'refused':
        return plain(res, found.status, found.status === 400 ? `Bad Request: ${found.reason}` : 'Not Found');
      case 'missing':
        return plain(res, 404, 'Not Found');
      case 'redirect':
        return plain(res, 301, `Moved Permanently: ${found.location}`, { location: found.location + (queryAt < 0 ? '' : url.slice(queryAt)) });
      case 'file':
        return this.sendFile(req, res, found.real);
    }
  }

  /**
   * Maps a URL path to a real file inside the root. `..` segments, NUL bytes and backslashes are refused
   * before touching the disk; symlinks are followed only while they stay inside the root.
   */
  private async locate(pathname: string): Promise<Located> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return { kind: 'refused', status: 400, reason: 'malformed percent-encoding in the path' };
    }
    if (decoded.includes('\0')) return { kind: 'refused', status: 400, reason: 'NUL byte in the path' };
    if (decoded.includes('\\')) return { kind: 'refused', status: 400, reason: 'backslash in the path' };
    const segments = decoded.split('/');
    if (segments.includes('..')) return { kind: 'refused', status: 400, reason: '".." in the path' };
    const { root } = this.options;
    const candidate = path.join(root, ...segments);
    if (!inside(root, candidate)) return { kind: 'refused', status: 400, reason: 'the path leaves the served folder' };
    const real = await realTarget(candidate);
    if (real === undefined) return { kind: 'missing' };
    if (!inside(root, real.path)) return { kind: 'refused', status: 404, reason: 'a symlink leaves the served folder' };
    if (!real.directory) return { kind: 'file', real: real.path };
    if (!pathname.endsWith('/')) return { kind: 'redirect', location: `${pathname}/` };
    const index = await realTarget(path.join(real.path, INDEX));
    if (index === undefined || index.directory) return { kind: 'missing' };
    if (!inside(root, index.path)) return { kind: 'refused', status: 404, reason: 'a symlink leaves the served folder' };
    return { kind: 'file', real: index.path };
  }

  private sendFile(req: RequestContext['req'], res: RequestContext['res'], real: string): Promise<void> {
    const { root } = this.options;
    // `send` re-resolves against the root; hand it the real path so it opens exactly what was checked.
    const relative = path.relative(root, real).split(path.sep).map(encodeURIComponent).join('/');
    return new Promise<void>((resolve) => {
      res.once('close', resolve);
      res.once('finish', resolve);
      send(req as never, `/${relative}`, { root, index: false, dotfiles: 'ignore' })
        .on('error', (error: { status?: number; message: string }) => {
          const status = error.status ?? 500;
          if (res.headersSent) res.stream.close();
          else plain(res, status, status === 404 ? 'Not Found' : `Error: ${error.message}`);
          resolve();
        })
        .pipe(res as never);
    });
  }
}

function plain(res: RequestContext['res'], status: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${text}\n`;
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'x-content-type-options': 'nosniff',
  });
  if (res.req.method === 'HEAD') res.end();
  else res.end(body);
}

function inside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/** The real path of `target` (symlinks resolved) and whether it is a folder; undefined when it does not exist. */
async function realTarget(target: string): Promise<{ path: string; directory: boolean } | undefined> {
  try {
    const real = await realpath(target);
    return { path: real, directory: (await stat(real)).isDirectory() };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EACCES' || code === 'ENAMETOOLONG') return undefined;
    throw error;
  }
}

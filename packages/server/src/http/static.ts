import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/** Paths the UI must never shadow: they belong to the API, the health check and discovery documents. */
function isReserved(p: string): boolean {
  return p === '/api' || p.startsWith('/api/') || p === '/healthz' || p === '/.well-known' || p.startsWith('/.well-known/');
}

/**
 * Serves the built web UI (packages/web/dist) at `/`: files as they are, streamed, and index.html for
 * every other path so that client-side routes (`/bots/alpha/files`) survive a reload. Vite names
 * the files under assets/ by their content, so those may be cached for good; index.html may not.
 */
export function serveWebUi(options: { root: string }): MiddlewareHandler<AppEnv> {
  const root = path.resolve(options.root);
  return async (c, next) => {
    const method = c.req.method.toUpperCase();
    if ((method !== 'GET' && method !== 'HEAD') || isReserved(c.req.path)) return next();

    let rel: string;
    try {
      rel = decodeURIComponent(c.req.path);
    } catch {
      return next();
    }
    const file = path.resolve(root, `.${path.posix.normalize(`/${rel}`)}`);
    // normalize() has already removed every "..": this only double-checks the result stays in root.
    if (file !== root && !file.startsWith(`${root}${path.sep}`)) return next();

    let target = file;
    let stat = await statFile(target);
    if (!stat) {
      // A missing asset is a 404, not the app: a stale page asking for old bundles must learn so.
      if (path.extname(rel) !== '' || rel.startsWith('/assets/')) return next();
      target = path.join(root, 'index.html');
      stat = await statFile(target);
      if (!stat) {
        return c.text('The web UI is not built. Run `npm run build` (npm start does it), then reload.', 503);
      }
    }

    const immutable = target.startsWith(path.join(root, 'assets') + path.sep);
    const headers: Record<string, string> = {
      'content-type': TYPES[path.extname(target).toLowerCase()] ?? 'application/octet-stream',
      'content-length': String(stat.size),
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    };
    if (target.endsWith('.html')) {
      // The UI is never meant to be framed (clickjacking) and loads only its own code.
      headers['x-frame-options'] = 'DENY';
      headers['content-security-policy'] =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";
    }
    if (method === 'HEAD') return c.body(null, 200, headers);
    const body = Readable.toWeb(fs.createReadStream(target)) as ReadableStream<Uint8Array>;
    return c.body(body, 200, headers);
  };
}

async function statFile(p: string): Promise<fs.Stats | null> {
  try {
    const s = await fs.promises.stat(p);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

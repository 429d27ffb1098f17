/** Serves a web page built by `npm run build` (dist/web/{name}/): `/{name}`, `/{name}/` and `/{name}/{file}`. */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Errors, notFound } from '../protocol/errors.js';
import type { RequestContext } from './context.js';
import type { HttpApi } from './http-api.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
};

/** A file name the build writes: no path separators, no leading dot. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
/** esbuild's `[name]-[hash]` names: cacheable for good. */
const HASHED = /-[A-Z0-9]{8}\.(js|css|map)$/;

/** A page's Content-Security-Policy: its own scripts and styles, its own API and WebSocket. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: http: https:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Registers the routes of a built page; `dir` is the folder of its files (with a trailing slash). */
export function registerWebAssets(api: HttpApi, name: string, dir: URL): void {
  const cache = new Map<string, Promise<Buffer>>();
  const serve = async (ctx: RequestContext, file: string): Promise<void> => {
    if (!FILE_NAME.test(file) || !(extname(file) in TYPES)) throw notFound(`No file "${file}" in /${name}`);
    let body = cache.get(file);
    if (!body) {
      body = readFile(new URL(file, dir));
      cache.set(file, body);
      body.catch(() => cache.delete(file));
    }
    let bytes: Buffer;
    try {
      bytes = await body;
    } catch (error) {
      if (file === 'index.html') {
        throw Errors.notBuilt(`The ${name} page is missing (${(error as Error).message}): run npm run build`);
      }
      throw notFound(`No file "${file}" in /${name}`);
    }
    const type = TYPES[extname(file)];
    ctx.res.writeHead(200, {
      'content-type': type,
      'content-length': bytes.length,
      'cache-control': file === 'index.html' ? 'no-cache' : HASHED.test(file) ? 'public, max-age=31536000, immutable' : 'public, max-age=300',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      ...(file === 'index.html' ? { 'content-security-policy': CSP, 'x-frame-options': 'DENY' } : {}),
    });
    ctx.res.end(ctx.method === 'HEAD' ? undefined : bytes);
  };
  api
    .route('GET', `/${name}`, (ctx) => serve(ctx, 'index.html'), { auth: 'none' })
    .route('GET', `/${name}/`, (ctx) => serve(ctx, 'index.html'), { auth: 'none' })
    .route('GET', `/${name}/:file`, (ctx) => serve(ctx, ctx.params.file ?? ''), { auth: 'none' });
}

/** The folder `npm run build` writes a page to: dist/web/{name}/ (relative to dist/src/http/ once compiled). */
export function builtPage(name: string): URL {
  return new URL(`../../web/${name}/`, import.meta.url);
}

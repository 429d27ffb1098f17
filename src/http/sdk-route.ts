/** Serves the browser bundle of the client SDK at `/sdk/herald-client.js`. */
import { readFile } from 'node:fs/promises';
import { Errors } from '../protocol/errors.js';
import type { HttpApi } from './http-api.js';

// Relative to dist/src/http/ once compiled: the bundle is written to dist/client/ by `npm run build`.
const BUNDLE = new URL('../../client/herald-client.js', import.meta.url);

/** Registers `GET /sdk/herald-client.js` (an ES module; the file is read once). */
export function registerSdkRoute(api: HttpApi): void {
  let bundle: Promise<Buffer> | null = null;
  api.route(
    'GET',
    '/sdk/herald-client.js',
    async (ctx) => {
      bundle ??= readFile(BUNDLE).catch((error: unknown) => {
        bundle = null;
        throw Errors.notBuilt(`The client bundle is missing (${(error as Error).message}): run npm run build`);
      });
      const body = await bundle;
      ctx.res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'content-length': body.length,
        'cache-control': 'public, max-age=300',
        'access-control-allow-origin': '*',
      });
      ctx.res.end(body);
    },
    { auth: 'none' },
  );
}

/** Serves the browser bundles: the client SDK at `/sdk/herald-client.js`, `<herald-inbox>` at `/sdk/herald-inbox.js`, the push service worker at `/sdk/herald-sw.js`. */
import { readFile } from 'node:fs/promises';
import { Errors } from '../protocol/errors.js';
import type { HttpApi } from './http-api.js';

// Relative to dist/src/http/ once compiled: `npm run build` writes the bundles to dist/client/ and dist/inbox-ui/.
const BUNDLES: Record<string, URL> = {
  '/sdk/herald-client.js': new URL('../../client/herald-client.js', import.meta.url),
  '/sdk/herald-inbox.js': new URL('../../inbox-ui/herald-inbox.js', import.meta.url),
  '/sdk/herald-sw.js': new URL('../../client/herald-sw.js', import.meta.url),
};

/** Registers `GET` of each bundle (an ES module; each file is read once). */
export function registerSdkRoute(api: HttpApi): void {
  for (const [path, file] of Object.entries(BUNDLES)) {
    let bundle: Promise<Buffer> | null = null;
    api.route(
      'GET',
      path,
      async (ctx) => {
        bundle ??= readFile(file).catch((error: unknown) => {
          bundle = null;
          throw Errors.notBuilt(`The bundle ${path} is missing (${(error as Error).message}): run npm run build`);
        });
        const body = await bundle;
        ctx.res.writeHead(200, {
          'content-type': 'text/javascript; charset=utf-8',
          'content-length': body.length,
          'cache-control': 'public, max-age=300',
          'access-control-allow-origin': '*',
          // The service worker may control the whole origin when registered from /sdk/ (apps usually serve a copy at /).
          ...(path === '/sdk/herald-sw.js' ? { 'service-worker-allowed': '/' } : {}),
        });
        ctx.res.end(body);
      },
      { auth: 'none' },
    );
  }
}

/** Signing of webhook bodies (Pusher's scheme) and the headers of a delivery. Pure. */
import { createHmac } from 'node:crypto';

/** Headers a target's configured `headers` can never set: the signature, the body's framing, the connection. */
const PROTECTED = new Set([
  'content-type',
  'x-pusher-key',
  'x-pusher-signature',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'host',
  'expect',
  'te',
  'trailer',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const VALUE = /^[^\r\n\0]*$/;

/** `X-Pusher-Signature`: HMAC-SHA256 of the raw body with the app secret, hex. */
export function signBody(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** Configured header names that are not sent: protected ones and ones that are not valid HTTP. */
export function ignoredHeaders(extra: Readonly<Record<string, string>> | undefined): string[] {
  return Object.entries(extra ?? {})
    .filter(([name, value]) => PROTECTED.has(name.toLowerCase()) || !TOKEN.test(name) || !VALUE.test(value))
    .map(([name]) => name);
}

/**
 * The headers of a delivery: the target's extra headers first, then `Content-Type`,
 * `X-Pusher-Key` and `X-Pusher-Signature`, which the extra ones cannot replace.
 */
export function webhookHeaders(app: { readonly key: string; readonly secret: string }, body: string, extra?: Readonly<Record<string, string>>): Record<string, string> {
  const ignored = new Set(ignoredHeaders(extra));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(extra ?? {})) {
    if (!ignored.has(name)) headers[name.toLowerCase()] = value;
  }
  // Exactly `application/json`: the official SDKs compare the content type as a whole string.
  headers['content-type'] = 'application/json';
  headers['x-pusher-key'] = app.key;
  headers['x-pusher-signature'] = signBody(app.secret, body);
  return headers;
}

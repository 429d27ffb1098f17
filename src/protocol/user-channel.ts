/**
 * The channel-name form of a user id (design.md §5): an id made only of channel-name characters and
 * not starting with `=` is written as is; any other is `=` and the unpadded base64url of its UTF-8
 * bytes (`auth0|123` → `=YXV0aDB8MTIz`). Pure and dependency-free: the server and the browser SDK share it.
 */

const CHANNEL_SAFE = /^[A-Za-z0-9_\-=@,.;]+$/;
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Unpadded base64url of bytes. */
function base64url(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const a = bytes[i];
    const b = i + 1 < bytes.length ? bytes[i + 1] : 0;
    const c = i + 2 < bytes.length ? bytes[i + 2] : 0;
    const n = (a << 16) | (b << 8) | c;
    out += ALPHABET[(n >> 18) & 63] + ALPHABET[(n >> 12) & 63];
    if (i + 1 < bytes.length) out += ALPHABET[(n >> 6) & 63];
    if (i + 2 < bytes.length) out += ALPHABET[n & 63];
  }
  return out;
}

/** The form of a user id inside a channel name. */
export function userIdInChannel(userId: string): string {
  if (CHANNEL_SAFE.test(userId) && !userId.startsWith('=')) return userId;
  return `=${base64url(new TextEncoder().encode(userId))}`;
}

/** A user's inbox channel under a template such as `private-{userId}`. */
export function channelForUser(template: string, userId: string): string {
  // A replacer function, so `$&` and the like are inserted literally.
  return template.replace('{userId}', () => userIdInChannel(userId));
}

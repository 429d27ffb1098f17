/**
 * Web Push message encryption (RFC 8291, `aes128gcm` of RFC 8188) and VAPID (RFC 8292) on
 * node:crypto and jose. Why not the `web-push` package: its `encrypt` draws the salt and the
 * sender key inside (so RFC 8291's Appendix A vector cannot be checked against it), and its
 * `sendNotification` posts only through `https`; the crypto itself is this one short file.
 */
import { createCipheriv, createECDH, createHmac, randomBytes } from 'node:crypto';
import { importJWK, SignJWT } from 'jose';

/** Record size written in the header; one record always holds a push message (≤ 4 KB). */
const RECORD_SIZE = 4096;
/** Longest VAPID token lifetime a push service accepts (RFC 8292 §2). */
export const MAX_VAPID_TOKEN_SECONDS = 24 * 60 * 60;
/** The lifetime Herald gives its VAPID tokens. */
export const VAPID_TOKEN_SECONDS = 12 * 60 * 60;

/** A P-256 key pair as Web Push carries it: base64url, public uncompressed (65 bytes), private the 32-byte scalar. */
export interface VapidKeys {
  readonly publicKey: string;
  readonly privateKey: string;
}

/** What a subscription gives: the browser's public key (`p256dh`) and auth secret, base64url. */
export interface SubscriptionKeys {
  readonly p256dh: string;
  readonly auth: string;
}

/** Fixed inputs for a test vector; random in real use. */
export interface EncryptionSeed {
  readonly senderPrivateKey: Buffer;
  readonly salt: Buffer;
}

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** HKDF (RFC 5869) with SHA-256, for outputs of at most 32 bytes: extract, then one expand step. */
function hkdf(salt: Buffer, ikm: Buffer, info: Buffer, length: number): Buffer {
  const prk = hmac(salt, ikm);
  return hmac(prk, Buffer.concat([info, Buffer.from([1])])).subarray(0, length);
}

/** A new P-256 key pair for VAPID. */
export function generateVapidKeys(): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return { publicKey: ecdh.getPublicKey().toString('base64url'), privateKey: ecdh.getPrivateKey().toString('base64url') };
}

/** Whether a key pair is a usable P-256 pair (the private key gives the public one). */
export function isVapidKeyPair(keys: VapidKeys): boolean {
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(keys.privateKey, 'base64url'));
    return ecdh.getPublicKey().toString('base64url') === keys.publicKey;
  } catch {
    return false;
  }
}

/** Whether subscription keys have the sizes RFC 8291 requires (65-byte uncompressed point, 16-byte secret). */
export function isSubscriptionKeys(keys: SubscriptionKeys): boolean {
  const publicKey = Buffer.from(keys.p256dh, 'base64url');
  const auth = Buffer.from(keys.auth, 'base64url');
  if (publicKey.length !== 65 || publicKey[0] !== 4 || auth.length !== 16) return false;
  try {
    const probe = createECDH('prime256v1');
    probe.generateKeys();
    probe.computeSecret(publicKey);
    return true;
  } catch {
    return false;
  }
}

/** Encrypts a push message for one subscription: the `aes128gcm` body (header with salt and sender key, one record). */
export function encryptPushMessage(plaintext: Buffer, keys: SubscriptionKeys, seed?: EncryptionSeed): Buffer {
  const uaPublic = Buffer.from(keys.p256dh, 'base64url');
  const authSecret = Buffer.from(keys.auth, 'base64url');
  const sender = createECDH('prime256v1');
  if (seed) sender.setPrivateKey(seed.senderPrivateKey);
  else sender.generateKeys();
  const asPublic = sender.getPublicKey();
  const salt = seed?.salt ?? randomBytes(16);
  const ecdhSecret = sender.computeSecret(uaPublic);
  const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), uaPublic, asPublic]);
  const ikm = hkdf(authSecret, ecdhSecret, keyInfo, 32);
  const cek = hkdf(salt, ikm, Buffer.from('Content-Encoding: aes128gcm\0'), 16);
  const nonce = hkdf(salt, ikm, Buffer.from('Content-Encoding: nonce\0'), 12);
  const cipher = createCipheriv('aes-128-gcm', cek, nonce);
  // 0x02: the delimiter of the last (here the only) record, no padding after it.
  const encrypted = Buffer.concat([cipher.update(Buffer.concat([plaintext, Buffer.from([2])])), cipher.final(), cipher.getAuthTag()]);
  const header = Buffer.alloc(16 + 4 + 1);
  salt.copy(header, 0);
  header.writeUInt32BE(RECORD_SIZE, 16);
  header.writeUInt8(asPublic.length, 20);
  return Buffer.concat([header, asPublic, encrypted]);
}

/** The `Authorization` header of a push request to `endpoint`: `vapid t=<ES256 JWT>, k=<public key>`. */
export async function vapidAuthorization(endpoint: string, keys: VapidKeys, subject: string, nowMs: number): Promise<string> {
  const publicKey = Buffer.from(keys.publicKey, 'base64url');
  const key = await importJWK(
    {
      kty: 'EC',
      crv: 'P-256',
      x: publicKey.subarray(1, 33).toString('base64url'),
      y: publicKey.subarray(33, 65).toString('base64url'),
      d: keys.privateKey,
    },
    'ES256',
  );
  const token = await new SignJWT({ sub: subject })
    .setProtectedHeader({ typ: 'JWT', alg: 'ES256' })
    .setAudience(new URL(endpoint).origin)
    .setExpirationTime(Math.floor(nowMs / 1000) + VAPID_TOKEN_SECONDS)
    .sign(key);
  return `vapid t=${token}, k=${keys.publicKey}`;
}

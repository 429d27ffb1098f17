/**
 * A Web Push service on loopback, as strict as a real one about what Herald sends: it checks the
 * VAPID token (ES256 over the `k` key, `aud` = the endpoint's origin, `exp` within 24 h), the
 * headers, and decrypts every body with the subscription's private key (RFC 8291). It answers
 * what the test scripts per subscription (201 by default; 404/410/429/500 to drive removal, retry
 * and parking).
 */
import { createDecipheriv, createECDH, createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { importJWK, jwtVerify } from 'jose';

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** The receiver's half of RFC 8291: decrypts an `aes128gcm` push body (one record). */
export function decryptPushMessage(body: Buffer, receiverPrivateKey: Buffer, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const senderPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(receiverPrivateKey);
  const receiverPublic = ecdh.getPublicKey();
  const secret = ecdh.computeSecret(senderPublic);
  const prkKey = hmac(authSecret, secret);
  const ikm = hmac(prkKey, Buffer.concat([Buffer.from('WebPush: info\0'), receiverPublic, senderPublic, Buffer.from([1])]));
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from('Content-Encoding: aes128gcm\0\x01')).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from('Content-Encoding: nonce\0\x01')).subarray(0, 12);
  const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([decipher.update(ciphertext.subarray(0, ciphertext.length - 16)), decipher.final()]);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error('the last record does not end with the 0x02 delimiter');
  return padded.subarray(0, end);
}

/** A browser's subscription: what it registers, and the private half only it knows. */
export interface TestSubscription {
  readonly id: string;
  readonly json: { endpoint: string; keys: { p256dh: string; auth: string } };
  readonly privateKey: Buffer;
  readonly auth: Buffer;
}

/** One message the service accepted (or answered with a scripted status). */
export interface ReceivedPush {
  readonly subscription: string;
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: IncomingMessage['headers'];
  readonly vapidKey: string;
  readonly at: number;
}

/** A scripted answer: a status and an optional Retry-After. */
export interface Answer {
  readonly status: number;
  readonly retryAfter?: string;
}

export class LocalPushService {
  readonly received: ReceivedPush[] = [];
  /** Requests refused before decryption (bad token, headers); the tests expect none. */
  readonly rejected: string[] = [];
  private readonly subscriptions = new Map<string, TestSubscription>();
  private readonly scripts = new Map<string, Answer[]>();
  private server: Server | null = null;
  private origin = '';
  private count = 0;

  /** `now`: the clock the VAPID token's expiry is checked against (the server's, when a test injects one). */
  constructor(private readonly now: () => number = Date.now) {}

  /** Starts on a free loopback port. */
  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        this.handle(req, Buffer.concat(chunks)).then(
          ({ status, retryAfter }) => {
            res.writeHead(status, retryAfter ? { 'retry-after': retryAfter } : {});
            res.end();
          },
          (error: Error) => {
            this.rejected.push(error.message);
            res.writeHead(400);
            res.end(error.message);
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A new subscription (a browser's keys and an endpoint here). */
  subscribe(): TestSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const id = `sub-${++this.count}-${randomBytes(4).toString('hex')}`;
    const subscription = {
      id,
      json: { endpoint: `${this.origin}/push/${id}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') } },
      privateKey: ecdh.getPrivateKey(),
      auth,
    };
    this.subscriptions.set(id, subscription);
    return subscription;
  }

  /** Answers the next requests to a subscription with these, in order (then 201). */
  script(subscription: TestSubscription, ...answers: Answer[]): void {
    this.scripts.set(subscription.id, [...(this.scripts.get(subscription.id) ?? []), ...answers]);
  }

  /** The decrypted bodies a subscription accepted (status 201). */
  delivered(subscription: TestSubscription): Record<string, unknown>[] {
    return this.received.filter((push) => push.subscription === subscription.id && push.status === 201).map((push) => push.body);
  }

  private async handle(req: IncomingMessage, body: Buffer): Promise<Answer> {
    const id = /^\/push\/([\w-]+)$/.exec(req.url ?? '')?.[1];
    const subscription = id ? this.subscriptions.get(id) : undefined;
    if (req.method !== 'POST' || !subscription) return { status: 404 };
    const vapidKey = await this.checkVapid(req.headers.authorization);
    if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`content-encoding is ${req.headers['content-encoding']}`);
    if (!/^\d+$/.test(String(req.headers.ttl ?? ''))) throw new Error('no TTL header');
    if (!/^(very-low|low|normal|high)$/.test(String(req.headers.urgency ?? 'normal'))) throw new Error('bad Urgency header');
    if (req.headers.topic !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(String(req.headers.topic))) throw new Error('bad Topic header');
    if (body.length > 4096) throw new Error(`body of ${body.length} bytes is over 4096`);
    const plaintext = decryptPushMessage(body, subscription.privateKey, subscription.auth);
    const answer = this.scripts.get(subscription.id)?.shift() ?? { status: 201 };
    this.received.push({
      subscription: subscription.id,
      status: answer.status,
      body: JSON.parse(plaintext.toString('utf8')) as Record<string, unknown>,
      headers: req.headers,
      vapidKey,
      at: this.now(),
    });
    return answer;
  }

  /** Checks `vapid t=…, k=…` (RFC 8292 §3); returns k. */
  private async checkVapid(header: string | undefined): Promise<string> {
    const match = /^vapid t=([\w-]+\.[\w-]+\.[\w-]+), k=([\w-]+)$/.exec(header ?? '');
    if (!match) throw new Error(`authorization is not "vapid t=…, k=…": ${header}`);
    const publicKey = Buffer.from(match[2], 'base64url');
    if (publicKey.length !== 65 || publicKey[0] !== 4) throw new Error('k is not an uncompressed P-256 key');
    const key = await importJWK(
      { kty: 'EC', crv: 'P-256', x: publicKey.subarray(1, 33).toString('base64url'), y: publicKey.subarray(33).toString('base64url') },
      'ES256',
    );
    const { payload } = await jwtVerify(match[1], key, {
      algorithms: ['ES256'],
      audience: this.origin,
      requiredClaims: ['exp', 'sub'],
      currentDate: new Date(this.now()),
    });
    if (payload.exp! > this.now() / 1000 + 24 * 3600) throw new Error('exp is more than 24 h ahead');
    if (!/^(mailto:|https:)/.test(String(payload.sub))) throw new Error('sub is not a mailto: or https: URL');
    return match[2];
  }
}

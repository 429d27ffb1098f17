/** Web Push (RFC 8030) with VAPID (RFC 8292) and aes128gcm (RFC 8291): one POST to the subscription's endpoint. */
import { createHash } from 'node:crypto';
import { encryptPushMessage, vapidAuthorization, type VapidKeys } from '../web-push-crypto.js';
import { networkError, outcomeOfStatus, type OutgoingPush, type PushOutcome, type PushProvider } from './provider.js';

/** The app's VAPID keys (configured, or generated and stored). */
export type VapidKeysOf = (appId: string) => Promise<VapidKeys>;

/** A `Topic` header (≤ 32 characters of the base64url alphabet) standing for a collapse key. */
export function topicOf(collapseKey: string): string {
  return createHash('sha256').update(collapseKey).digest('base64url').slice(0, 32);
}

/** Sends Web Push messages. */
export class WebPushProvider implements PushProvider {
  constructor(
    private readonly vapidKeys: VapidKeysOf,
    private readonly timeoutMs: number,
  ) {}

  async send(push: OutgoingPush, nowMs: number): Promise<PushOutcome> {
    const { device, delivery, app } = push;
    if (device.kind !== 'webpush') return { kind: 'failed', error: `not a Web Push device: ${device.kind}` };
    try {
      const keys = await this.vapidKeys(app.id);
      const body = encryptPushMessage(Buffer.from(JSON.stringify(push.body)), { p256dh: device.p256dh, auth: device.auth });
      const response = await fetch(device.endpoint, {
        method: 'POST',
        headers: {
          authorization: await vapidAuthorization(device.endpoint, keys, app.push.vapidSubject, nowMs),
          'content-encoding': 'aes128gcm',
          'content-type': 'application/octet-stream',
          ttl: String(push.ttlSeconds),
          urgency: delivery.urgency,
          topic: topicOf(delivery.collapseKey),
        },
        body: new Uint8Array(body),
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.ok) {
        // Settled at once: every moment between the provider's answer and our commit is one a crash could make a repeat.
        void response.arrayBuffer().catch(() => undefined);
        return { kind: 'sent' };
      }
      const text = (await response.text()).slice(0, 200);
      return outcomeOfStatus(response.status, `push service answered ${response.status}${text ? `: ${text}` : ''}`, response.headers.get('retry-after'), nowMs);
    } catch (error) {
      return { kind: 'retry', error: networkError(error), retryAfterMs: null };
    }
  }

  close(): void {}
}

/** What a push provider (Web Push, FCM, APNs) is given and answers, and the HTTP status rules they share. */
import type { App } from '../../config/apps.js';
import type { ClaimedDelivery, StoredDevice } from '../../store/push-store.js';
import type { PushBody } from '../message.js';

/** One delivery to send, its message parsed. */
export interface OutgoingPush {
  readonly app: App;
  readonly device: StoredDevice;
  readonly delivery: ClaimedDelivery;
  readonly body: PushBody;
  /** Seconds the provider may keep the message (what is left of its ttl). */
  readonly ttlSeconds: number;
}

/** What came of one attempt. */
export type PushOutcome =
  | { readonly kind: 'sent' }
  /** The provider says the device no longer exists (404/410, UNREGISTERED): remove it. */
  | { readonly kind: 'gone'; readonly error: string }
  /** Worth trying again (429, 5xx, network, timeout); `retryAfterMs` from `Retry-After`. */
  | { readonly kind: 'retry'; readonly error: string; readonly retryAfterMs: number | null }
  /** Will never succeed as it is (bad request, bad credentials, too large): park it. */
  | { readonly kind: 'failed'; readonly error: string };

/** A provider: sends one push. Never throws; every failure is an outcome. */
export interface PushProvider {
  send(push: OutgoingPush, nowMs: number): Promise<PushOutcome>;
  /** Closes connections it keeps (APNs' HTTP/2 sessions). */
  close(): void;
}

/** `Retry-After` (seconds or an HTTP date) in ms from now, or null. */
export function retryAfterMs(header: string | null | undefined, nowMs: number): number | null {
  if (!header) return null;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** The outcome of an HTTP status shared by the three providers: 2xx sent, 404/410 gone, 429/5xx retry, others failed. */
export function outcomeOfStatus(status: number, error: string, retryAfter: string | null | undefined, nowMs: number): PushOutcome {
  if (status >= 200 && status < 300) return { kind: 'sent' };
  if (status === 404 || status === 410) return { kind: 'gone', error };
  if (status === 429 || status >= 500 || status === 408) return { kind: 'retry', error, retryAfterMs: retryAfterMs(retryAfter, nowMs) };
  return { kind: 'failed', error };
}

/** A short description of a thrown network error. */
export function networkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return `network error: ${cause?.code ?? cause?.message ?? (error as Error).message ?? String(error)}`.slice(0, 300);
}

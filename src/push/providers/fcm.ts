/**
 * Firebase Cloud Messaging HTTP v1: an OAuth2 access token from the service account (JWT bearer
 * grant, RFC 7523, signed RS256 with jose), then one POST per message. Token and base URLs come
 * from the apps file, so tests run against a local server.
 */
import { importPKCS8, SignJWT } from 'jose';
import type { FcmOptions } from '../push-options.js';
import { displayText } from '../message.js';
import { networkError, outcomeOfStatus, retryAfterMs, type OutgoingPush, type PushOutcome, type PushProvider } from './provider.js';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
/** A token is renewed this long before Google says it expires. */
const TOKEN_MARGIN_MS = 60_000;

interface CachedToken {
  readonly token: string;
  readonly expiresAtMs: number;
}

/** The error details of an FCM answer: `UNREGISTERED` means the app was uninstalled or the token replaced. */
function fcmErrorCode(body: unknown): string | null {
  const details = (body as { error?: { details?: { errorCode?: unknown }[]; status?: unknown } })?.error;
  const code = details?.details?.find((detail) => typeof detail.errorCode === 'string')?.errorCode;
  return typeof code === 'string' ? code : typeof details?.status === 'string' ? details.status : null;
}

/** Sends FCM messages for every app that configures `push.fcm`. */
export class FcmProvider implements PushProvider {
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(private readonly timeoutMs: number) {}

  async send(push: OutgoingPush, nowMs: number): Promise<PushOutcome> {
    const options = push.app.push.fcm;
    if (!options) return { kind: 'failed', error: 'the app has no push.fcm configuration' };
    if (push.device.kind !== 'fcm') return { kind: 'failed', error: `not an FCM device: ${push.device.kind}` };
    let token: string;
    try {
      token = await this.accessToken(push.app.id, options, nowMs);
    } catch (error) {
      this.tokens.delete(push.app.id);
      return { kind: 'retry', error: `FCM token request failed: ${(error as Error).message}`.slice(0, 300), retryAfterMs: null };
    }
    try {
      const response = await fetch(`${options.baseUrl.replace(/\/$/, '')}/v1/projects/${encodeURIComponent(options.projectId)}/messages:send`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ message: fcmMessage(push) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (response.ok) {
        // Settled at once: every moment between the provider's answer and our commit is one a crash could make a repeat.
        void response.arrayBuffer().catch(() => undefined);
        return { kind: 'sent' };
      }
      const text = await response.text();
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = null;
      }
      const code = fcmErrorCode(parsed);
      const error = `FCM answered ${response.status}${code ? ` ${code}` : ''}`;
      if (code === 'UNREGISTERED') return { kind: 'gone', error };
      if (response.status === 401) {
        // The access token was revoked or expired early: the next attempt asks for a new one.
        this.tokens.delete(push.app.id);
        return { kind: 'retry', error, retryAfterMs: null };
      }
      return outcomeOfStatus(response.status, error, response.headers.get('retry-after'), nowMs);
    } catch (error) {
      return { kind: 'retry', error: networkError(error), retryAfterMs: null };
    }
  }

  close(): void {
    this.tokens.clear();
  }

  private async accessToken(appId: string, options: FcmOptions, nowMs: number): Promise<string> {
    const cached = this.tokens.get(appId);
    if (cached) {
      const token = await cached;
      if (token.expiresAtMs - TOKEN_MARGIN_MS > nowMs) return token.token;
    }
    const request = requestToken(options, nowMs, this.timeoutMs);
    this.tokens.set(appId, request);
    return (await request).token;
  }
}

/** The OAuth2 JWT bearer grant of a service account. */
async function requestToken(options: FcmOptions, nowMs: number, timeoutMs: number): Promise<CachedToken> {
  const key = await importPKCS8(options.privateKey, 'RS256');
  const issuedAt = Math.floor(nowMs / 1000);
  const assertion = await new SignJWT({ scope: SCOPE })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuer(options.clientEmail)
    .setAudience(options.tokenUri)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + 3600)
    .sign(key);
  const response = await fetch(options.tokenUri, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString(),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json().catch(() => ({}))) as { access_token?: unknown; expires_in?: unknown };
  if (!response.ok || typeof body.access_token !== 'string') throw new Error(`token endpoint answered ${response.status}`);
  const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 3600;
  return { token: body.access_token, expiresAtMs: nowMs + lifetime * 1000 };
}

/** The v1 message: a system notification, Herald's body as data, Android priority, ttl and collapse key. */
export function fcmMessage(push: OutgoingPush): Record<string, unknown> {
  const { title, text, image } = displayText(push.body);
  const high = push.delivery.urgency === 'high';
  return {
    token: push.device.kind === 'fcm' ? push.device.token : '',
    notification: { ...(title ? { title } : {}), body: text, ...(image ? { image } : {}) },
    data: { herald: JSON.stringify(push.body) },
    android: {
      priority: high ? 'high' : 'normal',
      ttl: `${push.ttlSeconds}s`,
      collapse_key: push.delivery.collapseKey.slice(0, 100),
      notification: { tag: push.delivery.collapseKey.slice(0, 100), notification_count: push.body.badge },
    },
  };
}

export { retryAfterMs };

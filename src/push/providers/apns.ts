/**
 * Apple Push Notification service over HTTP/2 with token (.p8) auth: an ES256 provider token
 * (renewed every 50 minutes, as Apple asks for at most one new token per 20 minutes and accepts one
 * for an hour), one stream per message on a kept session. node:http2 directly: APNs needs nothing more.
 */
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { importPKCS8, SignJWT } from 'jose';
import type { ApnsOptions } from '../push-options.js';
import { displayText } from '../message.js';
import { networkError, outcomeOfStatus, type OutgoingPush, type PushOutcome, type PushProvider } from './provider.js';

const TOKEN_LIFETIME_MS = 50 * 60 * 1000;
/** Reasons Apple gives for a token that will never work again. */
const GONE_REASONS = new Set(['BadDeviceToken', 'Unregistered', 'DeviceTokenNotForTopic']);
const TOKEN_REASONS = new Set(['ExpiredProviderToken', 'InvalidProviderToken']);

interface ProviderToken {
  readonly jwt: string;
  readonly issuedAtMs: number;
}

/** Sends APNs notifications for every app that configures `push.apns`. */
export class ApnsProvider implements PushProvider {
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  private readonly tokens = new Map<string, Promise<ProviderToken>>();

  constructor(private readonly timeoutMs: number) {}

  async send(push: OutgoingPush, nowMs: number): Promise<PushOutcome> {
    const options = push.app.push.apns;
    if (!options) return { kind: 'failed', error: 'the app has no push.apns configuration' };
    if (push.device.kind !== 'apns') return { kind: 'failed', error: `not an APNs device: ${push.device.kind}` };
    let jwt: string;
    try {
      jwt = await this.providerToken(push.app.id, options, nowMs);
    } catch (error) {
      this.tokens.delete(push.app.id);
      return { kind: 'failed', error: `APNs key could not sign: ${(error as Error).message}`.slice(0, 300) };
    }
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': `/3/device/${encodeURIComponent(push.device.token)}`,
      authorization: `bearer ${jwt}`,
      'apns-topic': options.topic,
      'apns-push-type': 'alert',
      'apns-priority': push.delivery.urgency === 'high' || push.delivery.urgency === 'normal' ? '10' : '5',
      'apns-expiration': String(Math.floor(nowMs / 1000) + push.ttlSeconds),
      'apns-collapse-id': collapseId(push.delivery.collapseKey),
      // The same on every attempt: a resend after a crash is the same notification to APNs and the device.
      'apns-id': apnsId(push.body.message_id ?? String(push.delivery.id), push.device.id),
      'content-type': 'application/json',
    };
    try {
      const { status, body, retryAfter } = await this.request(options.baseUrl, headers, JSON.stringify(apnsPayload(push)));
      if (status === 200) return { kind: 'sent' };
      const reason = parseReason(body);
      const error = `APNs answered ${status}${reason ? ` ${reason}` : ''}`;
      if (reason && GONE_REASONS.has(reason)) return { kind: 'gone', error };
      if (status === 403 && reason && TOKEN_REASONS.has(reason)) {
        this.tokens.delete(push.app.id);
        return { kind: 'retry', error, retryAfterMs: null };
      }
      return outcomeOfStatus(status, error, retryAfter, nowMs);
    } catch (error) {
      return { kind: 'retry', error: networkError(error), retryAfterMs: null };
    }
  }

  close(): void {
    for (const session of this.sessions.values()) session.close();
    this.sessions.clear();
  }

  private session(baseUrl: string): http2.ClientHttp2Session {
    const existing = this.sessions.get(baseUrl);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(baseUrl);
    session.on('error', () => this.sessions.delete(baseUrl));
    session.on('close', () => {
      if (this.sessions.get(baseUrl) === session) this.sessions.delete(baseUrl);
    });
    session.unref();
    this.sessions.set(baseUrl, session);
    return session;
  }

  private request(baseUrl: string, headers: http2.OutgoingHttpHeaders, payload: string): Promise<{ status: number; body: string; retryAfter: string | null }> {
    return new Promise((resolve, reject) => {
      const stream = this.session(baseUrl).request(headers);
      const timer = setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), this.timeoutMs);
      let status = 0;
      let retryAfter: string | null = null;
      const chunks: Buffer[] = [];
      stream.on('response', (responseHeaders) => {
        status = Number(responseHeaders[':status']);
        const value = responseHeaders['retry-after'];
        retryAfter = typeof value === 'string' ? value : null;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        clearTimeout(timer);
        if (status === 0) reject(new Error('stream ended without a response'));
        else resolve({ status, body: Buffer.concat(chunks).toString('utf8'), retryAfter });
      });
      stream.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      stream.on('close', () => {
        clearTimeout(timer);
        if (status === 0) reject(new Error(`stream closed (code ${stream.rstCode})`));
      });
      stream.end(payload);
    });
  }

  private async providerToken(appId: string, options: ApnsOptions, nowMs: number): Promise<string> {
    const cached = this.tokens.get(appId);
    if (cached) {
      const token = await cached;
      if (nowMs - token.issuedAtMs < TOKEN_LIFETIME_MS) return token.jwt;
    }
    const signing = (async (): Promise<ProviderToken> => {
      const key = await importPKCS8(options.privateKey, 'ES256');
      const jwt = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: options.keyId })
        .setIssuer(options.teamId)
        .setIssuedAt(Math.floor(nowMs / 1000))
        .sign(key);
      return { jwt, issuedAtMs: nowMs };
    })();
    this.tokens.set(appId, signing);
    return (await signing).jwt;
  }
}

/** A UUID (the form `apns-id` needs) derived from the message and the device. */
export function apnsId(messageId: string, deviceId: string): string {
  const hex = createHash('sha256').update(`${messageId}\n${deviceId}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** `apns-collapse-id` may be at most 64 bytes. */
function collapseId(key: string): string {
  return Buffer.byteLength(key) <= 64 ? key : Buffer.from(key).subarray(0, 64).toString('utf8').replace(/\uFFFD+$/, '');
}

function parseReason(body: string): string | null {
  try {
    const reason = (JSON.parse(body) as { reason?: unknown }).reason;
    return typeof reason === 'string' ? reason : null;
  } catch {
    return null;
  }
}

/** The APNs payload: `aps` with the alert and badge, Herald's body under `herald`. */
export function apnsPayload(push: OutgoingPush): Record<string, unknown> {
  const { title, text, image } = displayText(push.body);
  return {
    aps: {
      alert: { ...(title ? { title } : {}), body: text },
      badge: push.body.badge,
      sound: 'default',
      'thread-id': push.body.tag,
      ...(image ? { 'mutable-content': 1 } : {}),
    },
    herald: push.body,
  };
}

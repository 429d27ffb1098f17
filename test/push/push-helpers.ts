/** Helpers of the push tests: a manual clock, user tokens valid at any test time, per-user calls. */
import { SignJWT } from 'jose';
import type { App } from '../../src/config/apps.js';
import type { Harness } from '../helpers/harness.js';
import { tokenCall, type Reply } from '../helpers/inbox.js';

/** A clock the test moves by hand. */
export class ManualClock {
  constructor(public ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A user token valid until 2100 (the tests' clocks run anywhere before). */
export function longToken(app: App, userId: string): Promise<string> {
  return new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(userId).setExpirationTime(4_102_444_800).sign(new TextEncoder().encode(app.secret));
}

/** Calls `/apps/{appId}{path}` as a user (bearer token), with any method. */
export type UserCall = <T = Record<string, unknown>>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown) => Promise<Reply<T>>;

/** A UserCall of `userId` on the harness's first app. */
export async function userCall(harness: Harness, userId: string, app: App = harness.app): Promise<UserCall> {
  const token = await longToken(app, userId);
  return (method, path, body) => tokenCall(harness.baseUrl, app.id, token, method as 'GET', path, body);
}

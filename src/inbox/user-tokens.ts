/** User tokens: HS256 JWTs signed with the app secret, `sub` (user id) and `exp` required. */
import { jwtVerify, SignJWT } from 'jose';
import { unauthorized } from '../protocol/errors.js';

/** The claims Herald reads from a verified user token. */
export interface UserClaims {
  readonly userId: string;
  /** Optional `user_info` claim: presence member info and sign-in user data. */
  readonly userInfo: unknown;
  /** Optional `watchlist` claim for `pusher:signin`. */
  readonly watchlist: string[] | undefined;
  readonly expiresAt: Date;
  /** True for a token of the public demo (`POST /demo/token`): it reaches only its own demo inbox. */
  readonly demo: boolean;
}

/** The claim that marks a demo token; only Herald's own demo endpoint signs it. */
const SCOPE_CLAIM = 'herald_scope';
const DEMO_SCOPE = 'demo';

const encoder = new TextEncoder();

/**
 * Verifies a user token for an app; anything but a valid, unexpired HS256 token with `sub` and
 * `exp` is a 401 (including `alg: none` and other algorithms).
 */
export async function verifyUserToken(token: string, appSecret: string, nowMs: number): Promise<UserClaims> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, encoder.encode(appSecret), {
      algorithms: ['HS256'],
      requiredClaims: ['sub', 'exp'],
      currentDate: new Date(nowMs),
    }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_JWT_EXPIRED') throw unauthorized('User token has expired');
    if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') throw unauthorized(`User token is missing a required claim: ${(error as Error).message}`);
    if (code === 'ERR_JOSE_ALG_NOT_ALLOWED') throw unauthorized('User token must be signed with HS256');
    throw unauthorized('User token is invalid: bad signature or format');
  }
  if (typeof payload.sub !== 'string' || payload.sub.length === 0) throw unauthorized('User token "sub" must be a non-empty string');
  const watchlist = payload.watchlist;
  if (watchlist !== undefined && (!Array.isArray(watchlist) || !watchlist.every((id) => typeof id === 'string'))) {
    throw unauthorized('User token "watchlist" must be an array of user ids');
  }
  return {
    userId: payload.sub,
    userInfo: payload.user_info ?? null,
    watchlist: watchlist as string[] | undefined,
    expiresAt: new Date((payload.exp as number) * 1000),
    demo: payload[SCOPE_CLAIM] === DEMO_SCOPE,
  };
}

/** Options for signing a user token on a backend. */
export interface SignUserTokenOptions {
  readonly appSecret: string;
  readonly userId: string;
  /** Lifetime in seconds (default one hour). */
  readonly expiresInSeconds?: number;
  readonly userInfo?: unknown;
  readonly watchlist?: string[];
  /** Marks the token as the public demo's, confined to its own demo inbox. */
  readonly demo?: boolean;
}

/** Signs a user token for a client: what an app's backend hands its logged-in users. */
export async function signUserToken(options: SignUserTokenOptions): Promise<string> {
  const claims: Record<string, unknown> = {};
  if (options.userInfo !== undefined) claims.user_info = options.userInfo;
  if (options.watchlist !== undefined) claims.watchlist = options.watchlist;
  if (options.demo) claims[SCOPE_CLAIM] = DEMO_SCOPE;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.userId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600))
    .sign(encoder.encode(options.appSecret));
}

/** The bearer token of an Authorization header, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match ? match[1] : null;
}

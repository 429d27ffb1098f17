/**
 * The PostgreSQL store's connection pool, made safe for database outages: every wait is bounded
 * (connect, statement), every connection failure becomes a StoreUnavailableError (503), and no
 * connection's `'error'` event can reach the process as an unhandled one.
 */
import pg from 'pg';
import { Errors, StoreUnavailableError } from '../../protocol/errors.js';
import type { DatabaseTimeouts } from '../store.js';


/** How long after the server's statement timeout the client stops waiting (the server may be frozen). */
const CLIENT_GRACE_MS = 1_000;

// Socket errors of a connection that failed or went away.
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);
// SQLSTATEs of a database that is going away, not accepting connections, or too slow.
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300', '57014', '55P03']);
// node-postgres reports its own connection failures and timeouts as plain errors.
const DRIVER_MESSAGES = /^(Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed and is not queryable)/;

/** Whether an error means the database is unreachable or too slow, as opposed to a bad query. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StoreUnavailableError) return true;
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_STATES.has(code) || code.startsWith('08'))) return true;
  return typeof message === 'string' && DRIVER_MESSAGES.test(message);
}

/** The error to report: a StoreUnavailableError for an outage, the error itself otherwise. */
export function storeError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error;
  return Errors.storeUnavailable(`The database is unavailable: ${(error as Error).message}`, { cause: error });
}

function rethrow(error: unknown): never {
  throw storeError(error);
}

/** What any pooled query runs on: the pool (autocommit) or a client in a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

// A checked-out client's connection can fail between two queries: pg then emits 'error' on it,
// and pg-pool listens only while the client is idle. This listener keeps that from crashing the
// process; the failure itself reaches the transaction through its next query.
const ignoreCheckedOutError = (): void => undefined;

/** A pg.Pool whose queries and connections fail as StoreUnavailableError while the database is out. */
export class GuardedPool implements Queryable {
  readonly pool: pg.Pool;

  constructor(config: pg.PoolConfig, timeouts: DatabaseTimeouts) {
    this.pool = new pg.Pool({
      ...config,
      connectionTimeoutMillis: timeouts.connectTimeoutMs,
      statement_timeout: timeouts.statementTimeoutMs,
      query_timeout: timeouts.statementTimeoutMs + CLIENT_GRACE_MS,
    });
    // An idle connection dropped by the server (restart, failover) is an event, not a crash: the pool
    // replaces it on next use, and ping() reports the outage meanwhile.
    this.pool.on('error', () => undefined);
  }

  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(text, values).catch(rethrow);
  }

  /**
   * Runs `work` on one checked-out client; the client is destroyed instead of reused when the work
   * failed because of the connection (`release(error)` decides which, from what `work` threw).
   */
  async withClient<T>(work: (client: pg.PoolClient, release: (error?: unknown) => void) => Promise<T>): Promise<T> {
    const client = await this.pool.connect().catch(rethrow);
    client.on('error', ignoreCheckedOutError);
    let released = false;
    const release = (error?: unknown) => {
      if (released) return;
      released = true;
      client.off('error', ignoreCheckedOutError);
      client.release(error === undefined ? undefined : error instanceof Error ? error : new Error(String(error)));
    };
    try {
      return await work(client, release);
    } catch (error) {
      release(isUnavailable(error) ? error : undefined);
      throw storeError(error);
    } finally {
      release();
    }
  }

  end(): Promise<void> {
    return this.pool.end();
  }
}

/** Sends `text` with a client-side timeout of its own (for migrations, which may take longer than a request). */
export function queryWithTimeout(client: pg.ClientBase, text: string, timeoutMs: number): Promise<pg.QueryResult> {
  return client.query({ text, query_timeout: timeoutMs } as pg.QueryConfig);
}

/** The push tables on PostgreSQL (migration 5), shared by every node: claims use SKIP LOCKED leases. */
import type pg from 'pg';
import type { Queryable } from './guarded-pool.js';
import type { Preferences } from '../../push/preferences.js';
import { leaseToken, leaseTokenPrefix } from '../lease-token.js';
import {
  DELIVERY_COLUMNS,
  deviceColumns,
  newDeviceId,
  toDelivery,
  toDevice,
  toJob,
  toPreferences,
  type DeliveryRow,
  type DeviceRow,
  type JobRow,
} from '../push-rows.js';
import type {
  ClaimedDelivery,
  JobSettlement,
  NewDevice,
  PushJob,
  PushJobSpec,
  PushOutboxCounts,
  PushStore,
  StoredDevice,
} from '../push-store.js';
import type { Transaction } from './webhook-outbox.js';

const SQL = {
  /** $1 id, $2 app, $3 user, $4 kind, $5 address, $6 p256dh, $7 auth, $8 now. */
  upsertDevice: `INSERT INTO push_devices (id, app_id, user_id, kind, address, p256dh, auth, created_at_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bigint)
    ON CONFLICT (app_id, kind, address) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth
    RETURNING *`,
  dropOthersDeliveries: 'DELETE FROM push_outbox WHERE device_id = $1 AND user_id <> $2 AND parked_at_ms IS NULL',
  listDevices: 'SELECT * FROM push_devices WHERE app_id = $1 AND user_id = $2 ORDER BY created_at_ms, id',
  removeDevice: 'DELETE FROM push_devices WHERE app_id = $1 AND user_id = $2 AND id = $3',
  removeDeviceById: 'DELETE FROM push_devices WHERE id = $1',
  dropDeliveries: 'DELETE FROM push_outbox WHERE device_id = $1 AND parked_at_ms IS NULL',
  getPreferences: 'SELECT preferences FROM push_preferences WHERE app_id = $1 AND user_id = $2',
  putPreferences: `INSERT INTO push_preferences (app_id, user_id, preferences, updated_at_ms) VALUES ($1, $2, $3::jsonb, $4::bigint)
    ON CONFLICT (app_id, user_id) DO UPDATE SET preferences = excluded.preferences, updated_at_ms = excluded.updated_at_ms`,
  insertVapid: `INSERT INTO push_vapid_keys (app_id, public_key, private_key, created_at_ms) VALUES ($1, $2, $3, $4::bigint)
    ON CONFLICT (app_id) DO NOTHING`,
  getVapid: 'SELECT public_key, private_key FROM push_vapid_keys WHERE app_id = $1',
  /** $1 app, $2 users, $3 notification id, $4 due, $5 policy, $6 ttl, $7 urgency. */
  insertJobs: `INSERT INTO push_jobs (app_id, user_id, notification_id, due_at_ms, policy, ttl_seconds, urgency)
    SELECT $1::text, u.user_id, $3::text, $4::bigint, $5::text, $6::integer, $7::text FROM unnest($2::text[]) AS u(user_id)
    WHERE EXISTS (SELECT 1 FROM push_devices d WHERE d.app_id = $1 AND d.user_id = u.user_id)
    ON CONFLICT DO NOTHING`,
  /**
   * $1 now, $2 lease end, $3 users, $4 token. Every due job of the first users with due jobs; rows
   * another node is claiming are skipped, and rechecked on their new version once it commits.
   */
  claimJobs: `WITH users AS (
      SELECT app_id, user_id FROM push_jobs
      WHERE due_at_ms <= $1::bigint AND (lease_until_ms IS NULL OR lease_until_ms <= $1::bigint)
      GROUP BY app_id, user_id ORDER BY min(due_at_ms) LIMIT $3
    ), claimed AS (
      SELECT j.app_id, j.user_id, j.notification_id FROM push_jobs j JOIN users u ON u.app_id = j.app_id AND u.user_id = j.user_id
      WHERE j.due_at_ms <= $1::bigint AND (j.lease_until_ms IS NULL OR j.lease_until_ms <= $1::bigint)
      FOR UPDATE OF j SKIP LOCKED
    )
    UPDATE push_jobs p SET lease_token = $4, lease_until_ms = $2::bigint FROM claimed c
    WHERE p.app_id = c.app_id AND p.user_id = c.user_id AND p.notification_id = c.notification_id
    RETURNING p.app_id, p.user_id, p.notification_id, p.due_at_ms, p.policy, p.ttl_seconds, p.urgency`,
  /** $1 apps, $2 users, $3 ids, $4 token. */
  deleteJobs: `DELETE FROM push_jobs p USING unnest($1::text[], $2::text[], $3::text[]) AS v(app_id, user_id, id)
    WHERE p.app_id = v.app_id AND p.user_id = v.user_id AND p.notification_id = v.id AND p.lease_token = $4`,
  /** $1 apps, $2 users, $3 ids, $4 until, $5 token. */
  holdJobs: `UPDATE push_jobs p SET due_at_ms = v.until, lease_token = NULL, lease_until_ms = NULL
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(app_id, user_id, id, until)
    WHERE p.app_id = v.app_id AND p.user_id = v.user_id AND p.notification_id = v.id AND p.lease_token = $5`,
  insertDeliveries: `INSERT INTO push_outbox (app_id, user_id, device_id, message, urgency, collapse_key, expires_at_ms, created_at_ms, next_attempt_ms)
    SELECT a, u, d, m, g, c, e, t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
      AS v(a, u, d, m, g, c, e, t)`,
  /** $1 now, $2 lease end, $3 limit, $4 token. */
  claimDeliveries: `WITH claimed AS (
      SELECT id FROM push_outbox
      WHERE parked_at_ms IS NULL AND next_attempt_ms <= $1::bigint AND (lease_until_ms IS NULL OR lease_until_ms <= $1::bigint)
      ORDER BY next_attempt_ms, id LIMIT $3
      FOR UPDATE SKIP LOCKED
    ), leased AS (
      UPDATE push_outbox o SET lease_token = $4, lease_until_ms = $2::bigint FROM claimed c WHERE o.id = c.id RETURNING o.*
    )
    SELECT ${DELIVERY_COLUMNS} FROM leased o LEFT JOIN push_devices d ON d.id = o.device_id`,
  startAttempt: 'UPDATE push_outbox SET attempt_started_ms = $3::bigint WHERE id = $1 AND lease_token = $2 AND parked_at_ms IS NULL',
  completeDelivery: 'DELETE FROM push_outbox WHERE id = $1 AND lease_token = $2',
  rescheduleDelivery: `UPDATE push_outbox SET next_attempt_ms = $3::bigint, attempts = $4, last_error = $5, lease_token = NULL, lease_until_ms = NULL,
      attempt_started_ms = NULL
    WHERE id = $1 AND lease_token = $2 AND parked_at_ms IS NULL`,
  parkDelivery: `UPDATE push_outbox SET parked_at_ms = $5::bigint, attempts = $3, last_error = $4, lease_token = NULL, lease_until_ms = NULL,
      attempt_started_ms = NULL
    WHERE id = $1 AND lease_token = $2 AND parked_at_ms IS NULL`,
  releaseJobs: 'UPDATE push_jobs SET lease_token = NULL, lease_until_ms = NULL WHERE left(lease_token, length($1)) = $1',
  releaseDeliveries: `UPDATE push_outbox SET lease_token = NULL, lease_until_ms = NULL
    WHERE parked_at_ms IS NULL AND left(lease_token, length($1)) = $1`,
  counts: `SELECT (SELECT count(*) FROM push_jobs)::integer AS jobs,
      (SELECT count(*) FROM push_outbox WHERE parked_at_ms IS NULL)::integer AS pending,
      (SELECT count(*) FROM push_outbox WHERE parked_at_ms IS NOT NULL)::integer AS parked`,
} as const;

/** Thrown inside a settlement whose lease no longer holds, to roll it back. */
class LeaseLost extends Error {}

/** PushStore on the PostgreSQL store's pool. */
export class PostgresPushStore implements PushStore {
  constructor(
    private readonly pool: Queryable,
    private readonly transaction: Transaction,
  ) {}

  /** Stores the jobs of a push for those of its users who have a device, on the push's transaction client. */
  async insertJobs(client: pg.PoolClient, appId: string, users: readonly string[], notificationId: string, spec: PushJobSpec): Promise<void> {
    await client.query(SQL.insertJobs, [appId, users, notificationId, spec.dueAt.getTime(), spec.policy, spec.ttlSeconds, spec.urgency]);
  }

  async addDevice(appId: string, userId: string, device: NewDevice, now: Date): Promise<StoredDevice> {
    const columns = deviceColumns(device);
    return this.transaction(async (client) => {
      const row = (
        await client.query<DeviceRow>(SQL.upsertDevice, [newDeviceId(), appId, userId, columns.kind, columns.address, columns.p256dh, columns.auth, now.getTime()])
      ).rows[0];
      await client.query(SQL.dropOthersDeliveries, [row.id, row.user_id]);
      return toDevice(row);
    });
  }

  async listDevices(appId: string, userId: string): Promise<StoredDevice[]> {
    return (await this.pool.query<DeviceRow>(SQL.listDevices, [appId, userId])).rows.map(toDevice);
  }

  async removeDevice(appId: string, userId: string, id: string): Promise<boolean> {
    return this.transaction(async (client) => {
      if ((await client.query(SQL.removeDevice, [appId, userId, id])).rowCount === 0) return false;
      await client.query(SQL.dropDeliveries, [id]);
      return true;
    });
  }

  async getPreferences(appId: string, userId: string): Promise<Preferences | null> {
    const row = (await this.pool.query<{ preferences: unknown }>(SQL.getPreferences, [appId, userId])).rows[0];
    return row ? toPreferences(row.preferences) : null;
  }

  async putPreferences(appId: string, userId: string, preferences: Preferences, now: Date): Promise<void> {
    await this.pool.query(SQL.putPreferences, [appId, userId, JSON.stringify(preferences), now.getTime()]);
  }

  async vapidKeys(appId: string, generated: { publicKey: string; privateKey: string }, now: Date): Promise<{ publicKey: string; privateKey: string }> {
    await this.pool.query(SQL.insertVapid, [appId, generated.publicKey, generated.privateKey, now.getTime()]);
    const row = (await this.pool.query<{ public_key: string; private_key: string }>(SQL.getVapid, [appId])).rows[0];
    return { publicKey: row.public_key, privateKey: row.private_key };
  }

  async claimDueJobs(now: Date, leaseUntil: Date, users: number, holder: string): Promise<PushJob[]> {
    if (users <= 0) return [];
    const lease = leaseToken(holder);
    const rows = (await this.pool.query<JobRow>(SQL.claimJobs, [now.getTime(), leaseUntil.getTime(), users, lease])).rows;
    return rows.map((row) => toJob(row, lease)).sort((a, b) => a.dueAt.getTime() - b.dueAt.getTime());
  }

  async settleJobs(lease: string, settlement: JobSettlement): Promise<boolean> {
    try {
      await this.transaction(async (client) => {
        const { done, held, deliveries } = settlement;
        if (done.length > 0) {
          const deleted = await client.query(SQL.deleteJobs, [done.map((j) => j.appId), done.map((j) => j.userId), done.map((j) => j.notificationId), lease]);
          if (deleted.rowCount !== done.length) throw new LeaseLost();
        }
        if (held.length > 0) {
          const updated = await client.query(SQL.holdJobs, [
            held.map((h) => h.job.appId),
            held.map((h) => h.job.userId),
            held.map((h) => h.job.notificationId),
            held.map((h) => h.until.getTime()),
            lease,
          ]);
          if (updated.rowCount !== held.length) throw new LeaseLost();
        }
        if (deliveries.length > 0) {
          await client.query(SQL.insertDeliveries, [
            deliveries.map((d) => d.appId),
            deliveries.map((d) => d.userId),
            deliveries.map((d) => d.deviceId),
            deliveries.map((d) => d.message),
            deliveries.map((d) => d.urgency),
            deliveries.map((d) => d.collapseKey),
            deliveries.map((d) => d.expiresAt.getTime()),
            deliveries.map((d) => d.createdAt.getTime()),
          ]);
        }
      });
      return true;
    } catch (error) {
      if (error instanceof LeaseLost) return false;
      throw error;
    }
  }

  async claimDeliveries(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<ClaimedDelivery[]> {
    if (limit <= 0) return [];
    const lease = leaseToken(holder);
    const rows = (await this.pool.query<DeliveryRow>(SQL.claimDeliveries, [now.getTime(), leaseUntil.getTime(), limit, lease])).rows;
    return rows.sort((a, b) => a.id - b.id).map((row) => toDelivery(row, lease));
  }

  async startAttempt(id: number, lease: string, at: Date): Promise<boolean> {
    return (await this.pool.query(SQL.startAttempt, [id, lease, at.getTime()])).rowCount === 1;
  }

  async completeDelivery(id: number, lease: string): Promise<boolean> {
    return (await this.pool.query(SQL.completeDelivery, [id, lease])).rowCount === 1;
  }

  async rescheduleDelivery(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string): Promise<boolean> {
    return (await this.pool.query(SQL.rescheduleDelivery, [id, lease, nextAttemptAt.getTime(), attempts, lastError])).rowCount === 1;
  }

  async parkDelivery(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean> {
    return (await this.pool.query(SQL.parkDelivery, [id, lease, attempts, lastError, now.getTime()])).rowCount === 1;
  }

  async removeGoneDevice(deviceId: string): Promise<boolean> {
    return this.transaction(async (client) => {
      await client.query(SQL.dropDeliveries, [deviceId]);
      return (await client.query(SQL.removeDeviceById, [deviceId])).rowCount === 1;
    });
  }

  async releasePushLeases(holder: string): Promise<number> {
    const prefix = leaseTokenPrefix(holder);
    const jobs = (await this.pool.query(SQL.releaseJobs, [prefix])).rowCount ?? 0;
    const deliveries = (await this.pool.query(SQL.releaseDeliveries, [prefix])).rowCount ?? 0;
    return jobs + deliveries;
  }

  async countPush(): Promise<PushOutboxCounts> {
    return (await this.pool.query<PushOutboxCounts>(SQL.counts)).rows[0];
  }
}

/** The push tables on SQLite (migration 5): devices, preferences, VAPID keys, jobs and the push outbox. */
import type Database from 'better-sqlite3';
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

const UNLEASED = '(lease_until_ms IS NULL OR lease_until_ms <= @now)';

function prepareStatements(db: Database.Database) {
  return {
    upsertDevice: db.prepare<[Record<string, unknown>], DeviceRow>(
      `INSERT INTO push_devices (id, app_id, user_id, kind, address, p256dh, auth, created_at_ms)
       VALUES (@id, @appId, @userId, @kind, @address, @p256dh, @auth, @now)
       ON CONFLICT (app_id, kind, address) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth
       RETURNING *`,
    ),
    dropOthersDeliveries: db.prepare<[{ deviceId: string; userId: string }]>(
      'DELETE FROM push_outbox WHERE device_id = @deviceId AND user_id <> @userId AND parked_at_ms IS NULL',
    ),
    listDevices: db.prepare<[{ appId: string; userId: string }], DeviceRow>(
      'SELECT * FROM push_devices WHERE app_id = @appId AND user_id = @userId ORDER BY created_at_ms, id',
    ),
    removeDevice: db.prepare<[{ appId: string; userId: string; id: string }]>(
      'DELETE FROM push_devices WHERE app_id = @appId AND user_id = @userId AND id = @id',
    ),
    removeDeviceById: db.prepare<[string]>('DELETE FROM push_devices WHERE id = ?'),
    dropDeliveries: db.prepare<[string]>('DELETE FROM push_outbox WHERE device_id = ? AND parked_at_ms IS NULL'),
    getPreferences: db.prepare<[{ appId: string; userId: string }], string>(
      'SELECT preferences_json FROM push_preferences WHERE app_id = @appId AND user_id = @userId',
    ).pluck(),
    putPreferences: db.prepare<[{ appId: string; userId: string; json: string; now: number }]>(
      `INSERT INTO push_preferences (app_id, user_id, preferences_json, updated_at_ms) VALUES (@appId, @userId, @json, @now)
       ON CONFLICT (app_id, user_id) DO UPDATE SET preferences_json = excluded.preferences_json, updated_at_ms = excluded.updated_at_ms`,
    ),
    insertVapid: db.prepare<[{ appId: string; publicKey: string; privateKey: string; now: number }]>(
      `INSERT INTO push_vapid_keys (app_id, public_key, private_key, created_at_ms) VALUES (@appId, @publicKey, @privateKey, @now)
       ON CONFLICT (app_id) DO NOTHING`,
    ),
    getVapid: db.prepare<[string], { public_key: string; private_key: string }>('SELECT public_key, private_key FROM push_vapid_keys WHERE app_id = ?'),
    insertJobs: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO push_jobs (app_id, user_id, notification_id, due_at_ms, policy, ttl_seconds, urgency)
       SELECT @appId, j.value, @id, @dueAt, @policy, @ttl, @urgency FROM json_each(@userIds) j
       WHERE EXISTS (SELECT 1 FROM push_devices d WHERE d.app_id = @appId AND d.user_id = j.value)
       ON CONFLICT DO NOTHING`,
    ),
    dueUsers: db.prepare<[{ now: number; limit: number }], { app_id: string; user_id: string }>(
      `SELECT app_id, user_id FROM push_jobs WHERE due_at_ms <= @now AND ${UNLEASED}
       GROUP BY app_id, user_id ORDER BY min(due_at_ms) LIMIT @limit`,
    ),
    dueJobsOf: db.prepare<[{ appId: string; userId: string; now: number }], JobRow>(
      `SELECT * FROM push_jobs WHERE app_id = @appId AND user_id = @userId AND due_at_ms <= @now AND ${UNLEASED}
       ORDER BY due_at_ms, notification_id`,
    ),
    leaseJob: db.prepare<[{ appId: string; userId: string; id: string; token: string; until: number }]>(
      'UPDATE push_jobs SET lease_token = @token, lease_until_ms = @until WHERE app_id = @appId AND user_id = @userId AND notification_id = @id',
    ),
    deleteJob: db.prepare<[{ appId: string; userId: string; id: string; token: string }]>(
      'DELETE FROM push_jobs WHERE app_id = @appId AND user_id = @userId AND notification_id = @id AND lease_token = @token',
    ),
    holdJob: db.prepare<[{ appId: string; userId: string; id: string; token: string; until: number }]>(
      `UPDATE push_jobs SET due_at_ms = @until, lease_token = NULL, lease_until_ms = NULL
       WHERE app_id = @appId AND user_id = @userId AND notification_id = @id AND lease_token = @token`,
    ),
    insertDelivery: db.prepare<[Record<string, unknown>]>(
      `INSERT INTO push_outbox (app_id, user_id, device_id, message, urgency, collapse_key, expires_at_ms, created_at_ms, next_attempt_ms)
       VALUES (@appId, @userId, @deviceId, @message, @urgency, @collapseKey, @expiresAt, @createdAt, @createdAt)`,
    ),
    dueDeliveries: db.prepare<[{ now: number; limit: number }], DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM push_outbox o LEFT JOIN push_devices d ON d.id = o.device_id
       WHERE o.parked_at_ms IS NULL AND o.next_attempt_ms <= @now AND (o.lease_until_ms IS NULL OR o.lease_until_ms <= @now)
       ORDER BY o.next_attempt_ms, o.id LIMIT @limit`,
    ),
    leaseDelivery: db.prepare<[{ id: number; token: string; until: number }]>(
      'UPDATE push_outbox SET lease_token = @token, lease_until_ms = @until WHERE id = @id',
    ),
    startAttempt: db.prepare<[{ id: number; token: string; at: number }]>(
      'UPDATE push_outbox SET attempt_started_ms = @at WHERE id = @id AND lease_token = @token AND parked_at_ms IS NULL',
    ),
    completeDelivery: db.prepare<[{ id: number; token: string }]>('DELETE FROM push_outbox WHERE id = @id AND lease_token = @token'),
    rescheduleDelivery: db.prepare<[{ id: number; token: string; next: number; attempts: number; error: string }]>(
      `UPDATE push_outbox SET next_attempt_ms = @next, attempts = @attempts, last_error = @error, lease_token = NULL, lease_until_ms = NULL,
         attempt_started_ms = NULL
       WHERE id = @id AND lease_token = @token AND parked_at_ms IS NULL`,
    ),
    parkDelivery: db.prepare<[{ id: number; token: string; attempts: number; error: string; now: number }]>(
      `UPDATE push_outbox SET parked_at_ms = @now, attempts = @attempts, last_error = @error, lease_token = NULL, lease_until_ms = NULL,
         attempt_started_ms = NULL
       WHERE id = @id AND lease_token = @token AND parked_at_ms IS NULL`,
    ),
    releaseJobs: db.prepare<[{ prefix: string }]>(
      'UPDATE push_jobs SET lease_token = NULL, lease_until_ms = NULL WHERE substr(lease_token, 1, length(@prefix)) = @prefix',
    ),
    releaseDeliveries: db.prepare<[{ prefix: string }]>(
      `UPDATE push_outbox SET lease_token = NULL, lease_until_ms = NULL
       WHERE parked_at_ms IS NULL AND substr(lease_token, 1, length(@prefix)) = @prefix`,
    ),
    counts: db.prepare<[], PushOutboxCounts>(
      `SELECT (SELECT count(*) FROM push_jobs) AS jobs,
         (SELECT count(*) FROM push_outbox WHERE parked_at_ms IS NULL) AS pending,
         (SELECT count(*) FROM push_outbox WHERE parked_at_ms IS NOT NULL) AS parked`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** Thrown inside a settlement whose lease no longer holds, to roll it back. */
class LeaseLost extends Error {}

/** PushStore on the store's SQLite connection; claims and settlements are immediate transactions. */
export class SqlitePushStore implements PushStore {
  private statements: Statements | undefined;
  private readonly addDeviceTx;
  private readonly claimJobsTx;
  private readonly settleTx;
  private readonly claimDeliveriesTx;
  private readonly removeGoneTx;

  constructor(private readonly db: Database.Database) {
    this.addDeviceTx = db.transaction((params: Record<string, unknown>): DeviceRow => {
      const row = this.sql.upsertDevice.get(params)!;
      this.sql.dropOthersDeliveries.run({ deviceId: row.id, userId: row.user_id });
      return row;
    });
    this.claimJobsTx = db.transaction((now: number, until: number, users: number, holder: string): PushJob[] => {
      const token = leaseToken(holder);
      const jobs: PushJob[] = [];
      for (const user of this.sql.dueUsers.all({ now, limit: users })) {
        for (const row of this.sql.dueJobsOf.all({ appId: user.app_id, userId: user.user_id, now })) {
          this.sql.leaseJob.run({ appId: row.app_id, userId: row.user_id, id: row.notification_id, token, until });
          jobs.push(toJob(row, token));
        }
      }
      return jobs;
    });
    this.settleTx = db.transaction((lease: string, settlement: JobSettlement) => {
      for (const job of settlement.done) {
        const key = { appId: job.appId, userId: job.userId, id: job.notificationId, token: lease };
        if (this.sql.deleteJob.run(key).changes !== 1) throw new LeaseLost();
      }
      for (const { job, until } of settlement.held) {
        const key = { appId: job.appId, userId: job.userId, id: job.notificationId, token: lease, until: until.getTime() };
        if (this.sql.holdJob.run(key).changes !== 1) throw new LeaseLost();
      }
      for (const delivery of settlement.deliveries) {
        this.sql.insertDelivery.run({
          appId: delivery.appId,
          userId: delivery.userId,
          deviceId: delivery.deviceId,
          message: delivery.message,
          urgency: delivery.urgency,
          collapseKey: delivery.collapseKey,
          expiresAt: delivery.expiresAt.getTime(),
          createdAt: delivery.createdAt.getTime(),
        });
      }
    });
    this.claimDeliveriesTx = db.transaction((now: number, until: number, limit: number, holder: string): ClaimedDelivery[] => {
      const token = leaseToken(holder);
      return this.sql.dueDeliveries.all({ now, limit }).map((row) => {
        this.sql.leaseDelivery.run({ id: row.id, token, until });
        return toDelivery(row, token);
      });
    });
    this.removeGoneTx = db.transaction((deviceId: string): boolean => {
      this.sql.dropDeliveries.run(deviceId);
      return this.sql.removeDeviceById.run(deviceId).changes === 1;
    });
  }

  private get sql(): Statements {
    return (this.statements ??= prepareStatements(this.db));
  }

  /** Stores the jobs of a push for those of its users who have a device; runs inside the push's transaction. */
  insertJobsInTransaction(appId: string, usersJson: string, notificationId: string, spec: PushJobSpec): void {
    this.sql.insertJobs.run({
      appId,
      userIds: usersJson,
      id: notificationId,
      dueAt: spec.dueAt.getTime(),
      policy: spec.policy,
      ttl: spec.ttlSeconds,
      urgency: spec.urgency,
    });
  }

  async addDevice(appId: string, userId: string, device: NewDevice, now: Date): Promise<StoredDevice> {
    const row = this.addDeviceTx.immediate({ id: newDeviceId(), appId, userId, ...deviceColumns(device), now: now.getTime() });
    return toDevice(row);
  }

  async listDevices(appId: string, userId: string): Promise<StoredDevice[]> {
    return this.sql.listDevices.all({ appId, userId }).map(toDevice);
  }

  async removeDevice(appId: string, userId: string, id: string): Promise<boolean> {
    return this.db.transaction(() => {
      if (this.sql.removeDevice.run({ appId, userId, id }).changes === 0) return false;
      this.sql.dropDeliveries.run(id);
      return true;
    }).immediate();
  }

  async getPreferences(appId: string, userId: string): Promise<Preferences | null> {
    const json = this.sql.getPreferences.get({ appId, userId });
    return json === undefined ? null : toPreferences(json);
  }

  async putPreferences(appId: string, userId: string, preferences: Preferences, now: Date): Promise<void> {
    this.sql.putPreferences.run({ appId, userId, json: JSON.stringify(preferences), now: now.getTime() });
  }

  async vapidKeys(appId: string, generated: { publicKey: string; privateKey: string }, now: Date): Promise<{ publicKey: string; privateKey: string }> {
    this.sql.insertVapid.run({ appId, ...generated, now: now.getTime() });
    const row = this.sql.getVapid.get(appId)!;
    return { publicKey: row.public_key, privateKey: row.private_key };
  }

  async claimDueJobs(now: Date, leaseUntil: Date, users: number, holder: string): Promise<PushJob[]> {
    return users > 0 ? this.claimJobsTx.immediate(now.getTime(), leaseUntil.getTime(), users, holder) : [];
  }

  async settleJobs(lease: string, settlement: JobSettlement): Promise<boolean> {
    try {
      this.settleTx.immediate(lease, settlement);
      return true;
    } catch (error) {
      if (error instanceof LeaseLost) return false;
      throw error;
    }
  }

  async claimDeliveries(now: Date, leaseUntil: Date, limit: number, holder: string): Promise<ClaimedDelivery[]> {
    return limit > 0 ? this.claimDeliveriesTx.immediate(now.getTime(), leaseUntil.getTime(), limit, holder) : [];
  }

  async startAttempt(id: number, lease: string, at: Date): Promise<boolean> {
    return this.sql.startAttempt.run({ id, token: lease, at: at.getTime() }).changes === 1;
  }

  async completeDelivery(id: number, lease: string): Promise<boolean> {
    return this.sql.completeDelivery.run({ id, token: lease }).changes === 1;
  }

  async rescheduleDelivery(id: number, lease: string, nextAttemptAt: Date, attempts: number, lastError: string): Promise<boolean> {
    return this.sql.rescheduleDelivery.run({ id, token: lease, next: nextAttemptAt.getTime(), attempts, error: lastError }).changes === 1;
  }

  async parkDelivery(id: number, lease: string, attempts: number, lastError: string, now: Date): Promise<boolean> {
    return this.sql.parkDelivery.run({ id, token: lease, attempts, error: lastError, now: now.getTime() }).changes === 1;
  }

  async removeGoneDevice(deviceId: string): Promise<boolean> {
    return this.removeGoneTx.immediate(deviceId);
  }

  async releasePushLeases(holder: string): Promise<number> {
    const prefix = leaseTokenPrefix(holder);
    return this.db.transaction(() => this.sql.releaseJobs.run({ prefix }).changes + this.sql.releaseDeliveries.run({ prefix }).changes).immediate();
  }

  async countPush(): Promise<PushOutboxCounts> {
    return this.sql.counts.get()!;
  }
}

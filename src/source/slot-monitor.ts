/**
 * Watching the slot from the server's side: how far behind the confirmed position is, how much
 * WAL the slot holds, and whether it is in danger (`wal_status`, `safe_wal_size`). Runs on its own
 * SQL connection for the life of the process, so it keeps reporting while replication is down or
 * the instance is a standby. Optionally writes a heartbeat message so that an idle slot advances
 * even when only other databases write WAL.
 */
import type pg from 'pg';
import type { Logger } from '../ops/log.js';
import { HEARTBEAT_PREFIX } from '../route/router.js';
import type { Metrics } from '../ops/metrics.js';
import { parseLsn, type Lsn } from './lsn.js';
import { connectSql, type PgSettings } from './replication-connection.js';

/** The slot as the server sees it. */
export interface SlotStatus {
  slot: string;
  /** The server's current WAL insert position. */
  walLsn: Lsn;
  confirmedFlushLsn: Lsn | null;
  restartLsn: Lsn | null;
  /** `reserved`, `extended`, `unreserved` or `lost`. */
  walStatus: string | null;
  /** Bytes that can still be written before the slot risks invalidation; null when unlimited. */
  safeWalSize: number | null;
  activePid: number | null;
  /** Bytes between the current WAL position and the confirmed position. */
  lagBytes: number | null;
  /** Bytes of WAL the slot holds (from restart_lsn). */
  retainedBytes: number | null;
}

interface SlotRow {
  wal: string;
  confirmed: string | null;
  restart: string | null;
  wal_status: string | null;
  safe_wal_size: string | null;
  active_pid: number | null;
}

/** Reads the slot's status, or `null` when there is no such slot. */
export async function readSlotStatus(client: pg.Client, slot: string): Promise<SlotStatus | null> {
  const r = await client.query<SlotRow>(
    `SELECT pg_current_wal_lsn()::text AS wal, confirmed_flush_lsn::text AS confirmed, restart_lsn::text AS restart,
            wal_status, safe_wal_size::text AS safe_wal_size, active_pid
       FROM pg_replication_slots WHERE slot_name = $1`,
    [slot],
  );
  const row = r.rows[0];
  if (!row) return null;
  const walLsn = parseLsn(row.wal);
  const confirmedFlushLsn = row.confirmed ? parseLsn(row.confirmed) : null;
  const restartLsn = row.restart ? parseLsn(row.restart) : null;
  const behind = (lsn: Lsn | null) => (lsn === null ? null : Number(walLsn > lsn ? walLsn - lsn : 0n));
  return {
    slot,
    walLsn,
    confirmedFlushLsn,
    restartLsn,
    walStatus: row.wal_status,
    safeWalSize: row.safe_wal_size === null ? null : Number(row.safe_wal_size),
    activePid: row.active_pid,
    lagBytes: behind(confirmedFlushLsn),
    retainedBytes: behind(restartLsn),
  };
}

/** Options of the monitor. */
export interface SlotMonitorOptions {
  slot: string;
  intervalMs: number;
  /** Warn when the slot holds more WAL than this. */
  warnRetainedBytes: number;
  /** Write a heartbeat message this often; 0: never. */
  heartbeatMs: number;
}

/** Polls the slot's status into metrics and warns when it holds too much WAL. */
export class SlotMonitor {
  private client: pg.Client | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly heartbeat: NodeJS.Timeout | undefined;
  private warned = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly pgSettings: PgSettings,
    private readonly options: SlotMonitorOptions,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => void this.check(), options.intervalMs);
    this.timer.unref();
    if (options.heartbeatMs > 0) {
      this.heartbeat = setInterval(() => void this.beat(), options.heartbeatMs);
      this.heartbeat.unref();
    }
    void this.check();
  }

  /** Reads the status now (checks never overlap). */
  check(): Promise<void> {
    this.running = this.running.then(() =>
      this.withClient(async (c) => this.record(await readSlotStatus(c, this.options.slot))),
    );
    return this.running;
  }

  /** Stops polling and closes the connection. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.heartbeat);
    await this.running;
    await this.client?.end().catch(() => {});
    this.client = null;
  }

  private beat(): Promise<void> {
    this.running = this.running.then(() =>
      this.withClient(async (c) => {
        await c.query('SELECT pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
      }),
    );
    return this.running;
  }

  private record(status: SlotStatus | null): void {
    const m = this.metrics;
    if (!status) return;
    m.serverWalLsn.set(Number(status.walLsn));
    if (status.lagBytes !== null) m.lagBytes.set(status.lagBytes);
    if (status.retainedBytes !== null) m.slotRetainedWal.set(status.retainedBytes);
    if (status.safeWalSize !== null) m.slotSafeWalSize.set(status.safeWalSize);
    m.walStatus(status.walStatus);
    const over = (status.retainedBytes ?? 0) > this.options.warnRetainedBytes;
    if (over && !this.warned) {
      this.log.warn(
        {
          slot: status.slot,
          retainedBytes: status.retainedBytes,
          thresholdBytes: this.options.warnRetainedBytes,
          walStatus: status.walStatus,
          safeWalSize: status.safeWalSize,
        },
        'the replication slot holds more WAL than listener.retainedWalWarning: is publishing stuck?',
      );
    } else if (!over && this.warned) {
      this.log.info(
        { slot: status.slot, retainedBytes: status.retainedBytes },
        'retained WAL back under the warning level',
      );
    }
    this.warned = over;
    if (status.walStatus === 'unreserved' || status.walStatus === 'lost') {
      this.log.error(
        { slot: status.slot, walStatus: status.walStatus },
        'the replication slot is about to lose (or lost) the WAL it needs: changes are at risk',
      );
    }
  }

  private async withClient(work: (c: pg.Client) => Promise<void>): Promise<void> {
    try {
      this.client ??= await connectSql(this.pgSettings);
      await work(this.client);
    } catch (err) {
      this.log.debug({ err }, 'slot check failed; retrying at the next interval');
      await this.client?.end().catch(() => {});
      this.client = null;
    }
  }
}

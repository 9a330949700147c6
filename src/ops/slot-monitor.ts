/**
 * Watching the slot from the server's side: how far behind the confirmed position is, how much
 * WAL the slot holds, and whether it is in danger (`wal_status`, `safe_wal_size`). Runs on its own
 * SQL connection for the life of the process, so it keeps reporting while replication is down or
 * the instance is a standby. Optionally writes a heartbeat message so that an idle slot advances
 * even when only other databases write WAL.
 */
import type pg from 'pg';
import { connectSql, type PgSettings } from '../source/replication-connection.js';
import { readSlotStatus, writeHeartbeat, type SlotStatus } from '../source/slot-status.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

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
    this.running = this.running.then(() => this.withClient(writeHeartbeat));
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

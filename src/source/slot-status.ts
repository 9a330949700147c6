/**
 * The slot as the server sees it (`pg_replication_slots`), and the heartbeat message that lets an
 * idle slot advance when only other databases write WAL.
 */
import type pg from 'pg';
import { parseLsn, type Lsn } from './lsn.js';

/** Prefix of the heartbeat messages pgwalstreams writes itself; the router never publishes them. */
export const HEARTBEAT_PREFIX = 'pgwalstreams.heartbeat';

/** Prefix of the watermark messages backfills write (`backfill/window.ts`); never published either. */
export const WATERMARK_PREFIX = 'pgwalstreams.watermark';

/** Writes one heartbeat: a non-transactional logical message the slot's stream carries. */
export async function writeHeartbeat(client: pg.Client): Promise<void> {
  await client.query('SELECT pg_logical_emit_message(false, $1, $2)', [HEARTBEAT_PREFIX, '']);
}

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

/**
 * The outer frames of a START_REPLICATION stream: XLogData and primary keepalive from the
 * server, Standby Status Update from us. Each is the payload of one CopyData message.
 *
 * Layouts: https://www.postgresql.org/docs/current/protocol-replication.html
 * ("Streaming Replication Protocol", START_REPLICATION).
 */
import { DecodeError } from '../errors.js';
import type { FlushLsn, Lsn, ReceivedLsn } from './lsn.js';
import { PG_EPOCH_MS } from './pg-time.js';
import { ByteReader } from './pgoutput/reader.js';

/** The tag used in `DecodeError` for the outer replication frame. */
const FRAME_TAG = 'frame';

const CHAR_k = 0x6b; // 'k': primary keepalive message.
const CHAR_r = 0x72; // 'r': standby status update.
const CHAR_w = 0x77; // 'w': XLogData.

/** Size of a Standby Status Update: Byte1 + 4 × Int64 + Byte1. */
const STANDBY_STATUS_SIZE = 34;

/** XLogData (`w`): a run of WAL data; with pgoutput, exactly one logical message. */
export interface XLogDataFrame {
  tag: 'xlogdata';
  /** Start of the WAL data in this frame. */
  walStart: ReceivedLsn;
  /** Current end of WAL on the server. */
  walEnd: ReceivedLsn;
  /** Server clock at transmission, µs since 2000-01-01 UTC. */
  sendTime: bigint;
  /** The pgoutput message: a view into the frame buffer, not a copy. */
  data: Buffer;
}

/** Primary keepalive (`k`): the server's WAL end and whether it wants a status update now. */
export interface KeepaliveFrame {
  tag: 'keepalive';
  /** Current end of WAL on the server. */
  walEnd: ReceivedLsn;
  /** Server clock at transmission, µs since 2000-01-01 UTC. */
  sendTime: bigint;
  /** True when the server asks for a Standby Status Update as soon as possible. */
  replyRequested: boolean;
}

/** A frame sent by the server on a replication stream. */
export type ReplicationFrame = XLogDataFrame | KeepaliveFrame;

/** Parses one CopyData payload of a START_REPLICATION stream: `w` XLogData or `k` primary keepalive. */
export function parseFrame(buf: Buffer): ReplicationFrame {
  if (buf.length === 0) throw new DecodeError('empty replication frame', FRAME_TAG, 0);
  // Byte1: frame kind.
  const kind = buf[0]!;
  const r = new ByteReader(buf, FRAME_TAG, 1);
  if (kind === CHAR_w) {
    const walStart = r.u64() as ReceivedLsn; // Int64: start of the WAL data in this message.
    const walEnd = r.u64() as ReceivedLsn; // Int64: current end of WAL on the server.
    const sendTime = r.i64(); // Int64: server clock, µs since 2000-01-01 UTC.
    const data = buf.subarray(r.offset); // Byte(n): the WAL data, here one pgoutput message.
    return { tag: 'xlogdata', walStart, walEnd, sendTime, data };
  }
  if (kind === CHAR_k) {
    const walEnd = r.u64() as ReceivedLsn; // Int64: current end of WAL on the server.
    const sendTime = r.i64(); // Int64: server clock, µs since 2000-01-01 UTC.
    const replyRequested = r.u8() !== 0; // Byte1: 1 asks for an immediate reply.
    if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after a keepalive`);
    return { tag: 'keepalive', walEnd, sendTime, replyRequested };
  }
  throw new DecodeError(
    `unknown replication frame kind 0x${kind.toString(16).padStart(2, '0')}`,
    FRAME_TAG,
    0,
  );
}

/**
 * The two positions a session reports in a Standby Status Update, named so that they cannot be
 * swapped: `write` how far the stream was received, `flush` (also sent as `apply`) what the
 * checkpointer confirms.
 */
export interface StandbyPositions {
  write: ReceivedLsn;
  flush: FlushLsn;
}

/** What a Standby Status Update reports to the server, as written on the wire. */
export interface StandbyStatus {
  /** Last WAL position received. */
  write: Lsn;
  /** Last WAL position durably processed: the server may discard WAL before it. */
  flush: Lsn;
  /** Last WAL position applied. */
  apply: Lsn;
  /** Client clock, µs since 2000-01-01 UTC (see `pgClock`). */
  clock: bigint;
  /** True to ask the server to reply with a keepalive at once. */
  replyRequested: boolean;
}

/**
 * Builds the 34-byte Standby Status Update (`r`) CopyData payload.
 *
 * LSNs outside 0..2^64-1 or a clock outside the signed 64-bit range throw `RangeError`.
 */
export function encodeStandbyStatus(status: StandbyStatus): Buffer {
  const buf = Buffer.allocUnsafe(STANDBY_STATUS_SIZE);
  buf[0] = CHAR_r; // Byte1('r').
  buf.writeBigUInt64BE(status.write, 1); // Int64: last WAL byte + 1 received and written.
  buf.writeBigUInt64BE(status.flush, 9); // Int64: last WAL byte + 1 flushed.
  buf.writeBigUInt64BE(status.apply, 17); // Int64: last WAL byte + 1 applied.
  buf.writeBigInt64BE(status.clock, 25); // Int64: client clock, µs since 2000-01-01 UTC.
  buf[33] = status.replyRequested ? 1 : 0; // Byte1: 1 asks for an immediate reply.
  return buf;
}

/**
 * Microseconds since the PostgreSQL epoch (2000-01-01 UTC) for a JS millisecond timestamp.
 *
 * Fractional milliseconds are kept to the nearest microsecond; a non-finite input throws `RangeError`.
 */
export function pgClock(nowMs: number): bigint {
  return BigInt(Math.round((nowMs - PG_EPOCH_MS) * 1000));
}

/**
 * Byte builders for the server side of a START_REPLICATION stream: XLogData and keepalive frames.
 *
 * Layouts: https://www.postgresql.org/docs/current/protocol-replication.html
 */
import { ByteWriter } from './pgoutput-writer.js';

/** Fields of an XLogData frame; `data` is the WAL payload, usually one pgoutput message. */
export interface XLogDataFields {
  walStart: bigint;
  walEnd: bigint;
  sendTime: bigint;
  data: Uint8Array;
}

/** Fields of a primary keepalive frame. */
export interface KeepaliveFields {
  walEnd: bigint;
  sendTime: bigint;
  replyRequested: boolean;
}

/** Builds an XLogData CopyData payload: Byte1('w'), Int64 start, Int64 end, Int64 clock, data. */
export function encodeXLogData(f: XLogDataFields): Buffer {
  return new ByteWriter()
    .addByte('w')
    .addInt64(f.walStart)
    .addInt64(f.walEnd)
    .addInt64(f.sendTime)
    .addBytes(f.data)
    .join();
}

/** Builds a primary keepalive CopyData payload: Byte1('k'), Int64 end, Int64 clock, Byte1 reply. */
export function encodeKeepalive(f: KeepaliveFields): Buffer {
  return new ByteWriter()
    .addByte('k')
    .addInt64(f.walEnd)
    .addInt64(f.sendTime)
    .addByte(f.replyRequested ? 1 : 0)
    .join();
}

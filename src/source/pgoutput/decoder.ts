/**
 * Decodes one pgoutput message (protocol version 1) into the tagged union of `messages.ts`.
 *
 * Message layouts: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 *
 * The decoder is pure: bytes in, a value out. Bytes that do not form exactly one valid
 * protocol-1 message (unknown tag, truncated, trailing bytes, invalid marker or UTF-8) throw
 * `DecodeError` with the message tag and the byte offset; no other exception escapes.
 */
import { DecodeError } from '../../errors.js';
import type { CommitEndLsn, CommitLsn } from '../lsn.js';
import { OldTupleKind } from './messages.js';
import type {
  BeginMessage,
  CommitMessage,
  DeleteMessage,
  InsertMessage,
  LogicalMessage,
  OriginMessage,
  PgoutputMessage,
  RelationColumn,
  RelationMessage,
  TruncateMessage,
  TypeMessage,
  UpdateMessage,
} from './messages.js';
import { ByteReader } from './reader.js';
import { ColumnKind, Tuple } from './tuple.js';

// Byte values of the single-character markers used on the wire.
const CHAR_K = 0x4b; // 'K': the old tuple is the replica identity key.
const CHAR_N = 0x4e; // 'N': the new tuple follows.
const CHAR_O = 0x4f; // 'O': the old tuple is the full old row.
const CHAR_b = 0x62; // 'b': binary column value.
const CHAR_n = 0x6e; // 'n': NULL column value.
const CHAR_t = 0x74; // 't': text column value.
const CHAR_u = 0x75; // 'u': unchanged TOAST value, not sent.

const COLUMN_FLAG_KEY = 1;
const TRUNCATE_CASCADE = 1;
const TRUNCATE_RESTART_IDENTITY = 2;
const MESSAGE_TRANSACTIONAL = 1;

const REPLICA_IDENTITIES = new Set(['d', 'n', 'f', 'i']);

/**
 * Decodes the payload of one XLogData frame as a pgoutput protocol-1 message.
 *
 * Row values are not copied: a message's tuples point into `data` (see `tuple.ts`), so `data`
 * must stay unchanged while they are used; logical message content is a copy. Throws
 * `DecodeError` for anything but one complete message.
 */
export function decodePgoutput(data: Buffer): PgoutputMessage {
  if (data.length === 0) throw new DecodeError('empty message', '', 0);
  const tagByte = data[0]!;
  const tag = String.fromCharCode(tagByte);
  // Byte1 tag, then the body, read from offset 1.
  const r = new ByteReader(data, tag, 1);
  let msg: PgoutputMessage;
  switch (tag) {
    case 'B':
      msg = parseBegin(r);
      break;
    case 'C':
      msg = parseCommit(r);
      break;
    case 'O':
      msg = parseOrigin(r);
      break;
    case 'R':
      msg = parseRelation(r);
      break;
    case 'Y':
      msg = parseType(r);
      break;
    case 'I':
      msg = parseInsert(r);
      break;
    case 'U':
      msg = parseUpdate(r);
      break;
    case 'D':
      msg = parseDelete(r);
      break;
    case 'T':
      msg = parseTruncate(r);
      break;
    case 'M':
      msg = parseMessage(r);
      break;
    default:
      // Protocol 2+ stream messages (S, E, c, A), two-phase ones (b, P, K, r, p) and anything else.
      throw new DecodeError(`unknown or unsupported pgoutput message tag 0x${hex2(tagByte)}`, tag, 0);
  }
  if (r.remaining !== 0) r.fail(`${r.remaining} trailing bytes after a complete message`);
  return msg;
}

/** Begin: Int64 final LSN, Int64 commit timestamp, Int32 xid. */
function parseBegin(r: ByteReader): BeginMessage {
  const finalLsn = r.u64() as CommitLsn; // Int64 (XLogRecPtr): LSN of the commit record.
  const commitTime = r.i64(); // Int64 (TimestampTz): µs since 2000-01-01 UTC.
  const xid = r.u32(); // Int32 (TransactionId), unsigned.
  return { tag: 'begin', finalLsn, commitTime, xid };
}

/** Commit: Int8 flags, Int64 commit LSN, Int64 end LSN, Int64 commit timestamp. */
function parseCommit(r: ByteReader): CommitMessage {
  const flags = r.u8(); // Int8: flags, currently unused (0); passed through as is.
  const commitLsn = r.u64() as CommitLsn; // Int64 (XLogRecPtr): LSN of the commit record.
  const endLsn = r.u64() as CommitEndLsn; // Int64 (XLogRecPtr): end LSN of the transaction.
  const commitTime = r.i64(); // Int64 (TimestampTz): µs since 2000-01-01 UTC.
  return { tag: 'commit', flags, commitLsn, endLsn, commitTime };
}

/** Origin: Int64 origin commit LSN, String origin name. */
function parseOrigin(r: ByteReader): OriginMessage {
  const originLsn = r.u64(); // Int64 (XLogRecPtr): commit LSN on the origin server.
  const name = r.cstring(); // String: origin name.
  return { tag: 'origin', originLsn, name };
}

/** Relation: Int32 OID, String namespace, String name, Int8 replica identity, Int16 ncols, columns. */
function parseRelation(r: ByteReader): RelationMessage {
  const relationId = r.u32(); // Int32 (Oid): relation id.
  const schema = r.cstring() || 'pg_catalog'; // String: namespace, empty for pg_catalog.
  const name = r.cstring(); // String: relation name.
  const identityAt = r.offset;
  const replicaIdentity = String.fromCharCode(r.u8()); // Int8: relreplident (d, n, f or i).
  if (!REPLICA_IDENTITIES.has(replicaIdentity)) {
    r.fail(`unknown replica identity 0x${hex2(replicaIdentity.charCodeAt(0))}`, identityAt);
  }
  const countAt = r.offset;
  const count = r.i16(); // Int16: number of columns.
  if (count < 0) r.fail(`negative column count ${count}`, countAt);
  const columns: RelationColumn[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.u8(); // Int8: column flags, bit 1 = part of the key.
    const colName = r.cstring(); // String: column name.
    const typeOid = r.u32(); // Int32 (Oid): data type id.
    const typeMod = r.i32(); // Int32: atttypmod, -1 when none.
    columns.push({ isKey: (flags & COLUMN_FLAG_KEY) !== 0, name: colName, typeOid, typeMod });
  }
  return { tag: 'relation', relationId, schema, name, replicaIdentity, columns };
}

/** Type: Int32 OID, String namespace, String name. */
function parseType(r: ByteReader): TypeMessage {
  const typeOid = r.u32(); // Int32 (Oid): data type id.
  const schema = r.cstring() || 'pg_catalog'; // String: namespace, empty for pg_catalog.
  const name = r.cstring(); // String: data type name.
  return { tag: 'type', typeOid, schema, name };
}

/** Insert: Int32 OID, Byte1 'N', TupleData. */
function parseInsert(r: ByteReader): InsertMessage {
  const relationId = r.u32(); // Int32 (Oid): relation id.
  expectNewTupleMarker(r); // Byte1('N').
  const newTuple = parseTupleData(r); // TupleData: the new row.
  return { tag: 'insert', relationId, newTuple };
}

/** Update: Int32 OID, optional Byte1 'K' or 'O' + TupleData, Byte1 'N', TupleData. */
function parseUpdate(r: ByteReader): UpdateMessage {
  const relationId = r.u32(); // Int32 (Oid): relation id.
  const markerAt = r.offset;
  const marker = r.u8(); // Byte1: 'K' key, 'O' old row, or 'N' when no old tuple is sent.
  let oldKind: OldTupleKind | null = null;
  let oldTuple: Tuple | null = null;
  if (marker === CHAR_K || marker === CHAR_O) {
    oldKind = marker === CHAR_K ? OldTupleKind.Key : OldTupleKind.Full;
    oldTuple = parseTupleData(r); // TupleData: the old key or old row.
    expectNewTupleMarker(r); // Byte1('N').
  } else if (marker !== CHAR_N) {
    r.fail(`expected 'K', 'O' or 'N', got 0x${hex2(marker)}`, markerAt);
  }
  const newTuple = parseTupleData(r); // TupleData: the new row.
  return { tag: 'update', relationId, oldKind, oldTuple, newTuple };
}

/** Delete: Int32 OID, Byte1 'K' or 'O', TupleData. */
function parseDelete(r: ByteReader): DeleteMessage {
  const relationId = r.u32(); // Int32 (Oid): relation id.
  const markerAt = r.offset;
  const marker = r.u8(); // Byte1: 'K' key or 'O' old row.
  if (marker !== CHAR_K && marker !== CHAR_O) {
    r.fail(`expected 'K' or 'O', got 0x${hex2(marker)}`, markerAt);
  }
  const oldKind = marker === CHAR_K ? OldTupleKind.Key : OldTupleKind.Full;
  const oldTuple = parseTupleData(r); // TupleData: the old key or old row.
  return { tag: 'delete', relationId, oldKind, oldTuple };
}

/** Truncate: Int32 relation count, Int8 option bits, Int32 OID per relation. */
function parseTruncate(r: ByteReader): TruncateMessage {
  const countAt = r.offset;
  const count = r.i32(); // Int32: number of relations.
  if (count < 0) r.fail(`negative relation count ${count}`, countAt);
  // Int8: option bits, 1 = CASCADE, 2 = RESTART IDENTITY; other bits are not defined and ignored.
  const options = r.u8();
  // Check the whole OID array up front so a huge count cannot make us loop or allocate.
  if (count > r.remaining / 4) r.fail(`truncated: ${count} relation ids need ${count * 4} bytes`);
  const relationIds: number[] = [];
  for (let i = 0; i < count; i++) relationIds.push(r.u32()); // Int32 (Oid): relation id.
  return {
    tag: 'truncate',
    cascade: (options & TRUNCATE_CASCADE) !== 0,
    restartIdentity: (options & TRUNCATE_RESTART_IDENTITY) !== 0,
    relationIds,
  };
}

/** Message: Int8 flags, Int64 LSN, String prefix, Int32 length, Byte(n) content. */
function parseMessage(r: ByteReader): LogicalMessage {
  const flags = r.u8(); // Int8: bit 1 = transactional.
  const lsn = r.u64(); // Int64 (XLogRecPtr): LSN of the message.
  const prefix = r.cstring(); // String: prefix given to pg_logical_emit_message.
  const length = r.i32(); // Int32: content length.
  const content = r.copyBytes(length); // Byte(n): content, copied.
  return { tag: 'message', transactional: (flags & MESSAGE_TRANSACTIONAL) !== 0, lsn, prefix, content };
}

/**
 * TupleData: Int16 column count, then per column a kind byte and, for `t`/`b`, Int32 length + bytes.
 * The values stay in the message: the tuple records where each is (text is checked to be UTF-8).
 */
function parseTupleData(r: ByteReader): Tuple {
  const countAt = r.offset;
  const count = r.i16(); // Int16: number of columns.
  if (count < 0) r.fail(`negative column count ${count}`, countAt);
  const spans: number[] = [];
  for (let i = 0; i < count; i++) {
    const kindAt = r.offset;
    const kind = r.u8(); // Byte1: 'n', 'u', 't' or 'b'.
    switch (kind) {
      case CHAR_n:
        spans.push(ColumnKind.Null, 0, 0);
        break;
      case CHAR_u:
        spans.push(ColumnKind.Unchanged, 0, 0);
        break;
      case CHAR_t: {
        const n = r.i32(); // Int32 length, Byte(n) value in text format (UTF-8).
        const text = r.textSpan(n);
        spans.push(text.ascii ? ColumnKind.Text : ColumnKind.TextUtf8, text.start, text.start + n);
        break;
      }
      case CHAR_b: {
        const n = r.i32(); // Int32 length, Byte(n) value in binary format.
        const start = r.span(n);
        spans.push(ColumnKind.Binary, start, start + n);
        break;
      }
      default:
        r.fail(`unknown tuple column kind 0x${hex2(kind)}`, kindAt);
    }
  }
  return new Tuple(r.buffer, spans);
}

/** Reads the Byte1('N') that precedes a new tuple. */
function expectNewTupleMarker(r: ByteReader): void {
  const at = r.offset;
  const marker = r.u8();
  if (marker !== CHAR_N) r.fail(`expected 'N', got 0x${hex2(marker)}`, at);
}

/** Formats a byte as two hex digits for error messages. */
function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}

/**
 * The published event: one JSON object per row change, compatible with wal-listener's.
 *
 * ```json
 * {"id":"…","schema":"public","table":"users","action":"UPDATE",
 *  "data":{"id":1,"name":"ann"},"dataOld":{"id":1},
 *  "commitTime":"2024-01-01T10:00:01.123456Z","lsn":"0/16B3748","xid":750}
 * ```
 *
 * `data` is the new row (`{}` for DELETE and TRUNCATE). `dataOld` is the old key (default
 * replica identity: key columns only) or the whole old row (REPLICA IDENTITY FULL) when the
 * server sends one, `{}` otherwise. A TOASTed column that an UPDATE left unchanged is not sent
 * by the server: it is taken from the old row when that row is there, otherwise it is left out
 * of `data` and named in `unchangedToastColumns` (never published as null). TRUNCATE events
 * carry `"truncate":{"cascade":…,"restartIdentity":…}`.
 */
import type { Tuple, TupleValue } from '../source/pgoutput/messages.js';
import { ColumnKind } from '../source/pgoutput/tuple.js';
import { eventId, writeEventId, type TransactionIdPrefix } from './event-id.js';
import { JsonBytes, utf8 } from './json-bytes.js';
import {
  COMMIT_MARKER,
  NON_TRANSACTIONAL,
  type Change,
  type Column,
  type OpenTransaction,
  type Relation,
  type RowChange,
  type TransactionInfo,
} from './transaction.js';
import { valueToJson } from './values.js';

/**
 * What to write for a value its column's writer refused, instead of failing; receives the column,
 * the value's text and the error. Used only where a value may legitimately not match the current
 * catalog (a user-defined type that changed since the row was written).
 */
export type BadValue = (column: Column, text: string, err: unknown) => string;

/** Every event is written here: one buffer, reused, so an event's bytes are valid until the next. */
const out = new JsonBytes();

const ID_OPEN = utf8('{"id":"');
const ID_CLOSE = utf8('",');
/** Length of an event id (a UUID). */
const ID_LENGTH = 36;
const ACTION_DATA = new Map<string, Buffer>();
const EMPTY_OBJECT = utf8('{}');
const DATA_OLD = utf8(',"dataOld":');
const NULL = utf8('null');

/** `,"commitTime":…,"lsn":…,"xid":…,"position":` of the last transaction seen: the same for all its events. */
let tailOf: TransactionInfo | null = null;
let tail: Buffer = Buffer.alloc(0);

/**
 * Writes a row change's event JSON (UTF-8) and returns it: a view of a buffer that the next event
 * is written into, to be copied (or sent) before then.
 */
export function writeChangeEvent(change: RowChange, badValue?: BadValue): Buffer {
  const { relation, tx } = change;
  const columns = relation.columns;
  out.reset();
  out.bytes(ID_OPEN);
  out.ensure(ID_LENGTH + 2);
  out.pos = writeEventId(tx.idPrefix, change.position, out.buf, out.pos);
  out.bytes(ID_CLOSE);
  out.bytes(relation.jsonNames);
  let actionData = ACTION_DATA.get(change.action);
  if (!actionData)
    ACTION_DATA.set(change.action, (actionData = utf8(`,"action":"${change.action}","data":`)));
  out.bytes(actionData);
  let unchanged: string[] | null = null;
  if (change.newTuple) {
    const oldFull = change.oldKind === 'full' ? change.oldTuple : null;
    unchanged = writeRow(columns, change.newTuple, false, oldFull, badValue);
  } else {
    out.bytes(EMPTY_OBJECT);
  }
  out.bytes(DATA_OLD);
  if (change.oldTuple) writeRow(columns, change.oldTuple, change.oldKind === 'key', null, badValue);
  else out.bytes(EMPTY_OBJECT);
  if (tailOf !== tx) {
    tail = utf8(`,"commitTime":"${tx.commitTime}","lsn":"${tx.lsnText}","xid":${tx.xid},"position":`);
    tailOf = tx;
  }
  out.bytes(tail);
  out.uint(change.position);
  if (unchanged) out.text(`,"unchangedToastColumns":${JSON.stringify(unchanged)}`);
  if (change.truncate) {
    out.text(
      `,"truncate":{"cascade":${change.truncate.cascade},"restartIdentity":${change.truncate.restartIdentity}}`,
    );
  }
  out.byte(0x7d);
  return out.view();
}

/** What a snapshot event says of where it stands: the backfill, and the LSN and time it is consistent with. */
export interface SnapshotPoint {
  backfill: string;
  /** The LSN of the event's id (a chunk's high watermark, or an initial snapshot's consistent point). */
  lsnText: string;
  commitTime: string;
  /** The high watermark's transaction; null for an initial snapshot. */
  xid: number | null;
  idPrefix: TransactionIdPrefix;
}

const SNAPSHOT_ACTION = utf8(',"action":"SNAPSHOT","data":');
const snapshotTails = new WeakMap<SnapshotPoint, Buffer>();

/** `,"commitTime":…,"lsn":…,"xid":…,"position":` of a snapshot point. */
function snapshotTail(point: SnapshotPoint): Buffer {
  let t = snapshotTails.get(point);
  if (!t) {
    t = utf8(`,"commitTime":"${point.commitTime}","lsn":"${point.lsnText}","xid":${point.xid},"position":`);
    snapshotTails.set(point, t);
  }
  return t;
}

/**
 * Writes a snapshot event: `{"id","schema","table","action":"SNAPSHOT","data":{row},"dataOld":{},
 * "commitTime","lsn","xid","position","backfill"}`, the row in the same JSON as a change of it.
 * Returns a view of the shared buffer, as `writeChangeEvent` does.
 */
export function writeSnapshotEvent(
  relation: Relation,
  row: Tuple,
  point: SnapshotPoint,
  position: number,
): Buffer {
  out.reset();
  out.bytes(ID_OPEN);
  out.ensure(ID_LENGTH + 2);
  out.pos = writeEventId(point.idPrefix, position, out.buf, out.pos);
  out.bytes(ID_CLOSE);
  out.bytes(relation.jsonNames);
  out.bytes(SNAPSHOT_ACTION);
  writeRow(relation.columns, row, false, null, undefined);
  out.bytes(DATA_OLD);
  out.bytes(EMPTY_OBJECT);
  out.bytes(snapshotTail(point));
  out.uint(position);
  out.text(`,"backfill":${JSON.stringify(point.backfill)}}`);
  return out.view();
}

/**
 * The marker that ends a table's snapshot: `{"id","schema","table","action":"SNAPSHOT_END",
 * "backfill","state","rows","commitTime","lsn","xid","position"}` where `rows` counts the table's
 * snapshot events and `state` is `done`, `cancelled` or `failed`.
 */
export function snapshotEndEvent(
  relation: { schema: string; table: string },
  point: SnapshotPoint,
  position: number,
  end: { state: string; rows: number },
): Buffer {
  return utf8(
    `{"id":"${eventId(point.idPrefix, position)}","schema":${JSON.stringify(relation.schema)},` +
      `"table":${JSON.stringify(relation.table)},"action":"SNAPSHOT_END","backfill":${JSON.stringify(point.backfill)},` +
      `"state":${JSON.stringify(end.state)},"rows":${end.rows},"commitTime":"${point.commitTime}",` +
      `"lsn":"${point.lsnText}","xid":${point.xid},"position":${position}}`,
  );
}

/** The headers of a snapshot event or marker at `position`. */
export function snapshotMeta(point: SnapshotPoint, position: number): EventMeta {
  return { idPrefix: point.idPrefix, idNumber: position, lsn: point.lsnText, xid: point.xid, position };
}

/** Encodes a row change as its event JSON text. */
export function encodeChangeEvent(change: RowChange, badValue?: BadValue): string {
  return writeChangeEvent(change, badValue).toString('utf8');
}

/**
 * Writes a row as a JSON object; returns the names of the columns left out because their TOASTed
 * value was not sent (and not in `fallback` either), or null.
 */
function writeRow(
  columns: readonly Column[],
  tuple: Tuple,
  keyOnly: boolean,
  fallback: Tuple | null,
  badValue: BadValue | undefined,
): string[] | null {
  let unchanged: string[] | null = null;
  let first = true;
  out.byte(0x7b);
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    if (keyOnly && !column.isKey) continue;
    let from = tuple;
    if (tuple.kind(i) === ColumnKind.Unchanged) {
      if (!fallback || fallback.kind(i) === ColumnKind.Unchanged) {
        (unchanged ??= []).push(column.name);
        continue;
      }
      from = fallback;
    }
    if (!first) out.byte(0x2c);
    first = false;
    out.bytes(column.jsonKey);
    writeValue(column, from, i, badValue);
  }
  out.byte(0x7d);
  return unchanged;
}

/** Writes column `i` of `tuple`: from its bytes when its column has a byte writer that takes them. */
function writeValue(column: Column, tuple: Tuple, i: number, badValue: BadValue | undefined): void {
  const kind = tuple.kind(i);
  if (kind === ColumnKind.Null) return out.bytes(NULL);
  const bytes = column.writeBytes;
  if (bytes && (kind === ColumnKind.Text || kind === ColumnKind.TextUtf8)) {
    if (bytes(tuple.bytes, tuple.start(i), tuple.end(i), out)) return;
  }
  const value = tuple.value(i) as Exclude<TupleValue, null | symbol>;
  out.text(badValue ? tolerant(column, value, badValue) : valueToJson(value, column.write));
}

/**
 * What is sent as NATS headers with an event: its id (`Nats-Msg-Id`, given as the prefix and the
 * number that `eventId` joins, so that it can be written as bytes) and the transaction metadata.
 */
export interface EventMeta {
  idPrefix: TransactionIdPrefix;
  /** The id's last 8 hex digits: the position, `COMMIT_MARKER` or `NON_TRANSACTIONAL`. */
  idNumber: number;
  /** Commit LSN (`X/Y`); for a non-transactional message, the message's own LSN. */
  lsn: string;
  /** Transaction id; `null` for a non-transactional message. */
  xid: number | null;
  /** Position in the transaction; `null` for a non-transactional message. */
  position: number | null;
}

/**
 * The body of a change as published: event JSON for rows (valid until the next event is written,
 * see `writeChangeEvent`), the content itself for messages.
 */
export function encodeChange(change: Change, badValue?: BadValue): Uint8Array {
  return change.kind === 'row' ? writeChangeEvent(change, badValue) : change.content;
}

function tolerant(column: Column, value: Exclude<TupleValue, null | symbol>, badValue: BadValue): string {
  try {
    return valueToJson(value, column.write);
  } catch (err) {
    if (typeof value !== 'string') throw err;
    return badValue(column, value, err);
  }
}

/** The transaction metadata of a change. */
export function changeMeta(change: Change): EventMeta {
  const tx = change.tx;
  if (change.kind === 'row' || (tx && change.position !== null)) {
    const position = change.position!;
    return { idPrefix: tx!.idPrefix, idNumber: position, lsn: tx!.lsnText, xid: tx!.xid, position };
  }
  return {
    idPrefix: change.idPrefix,
    idNumber: NON_TRANSACTIONAL,
    lsn: change.lsnText,
    xid: null,
    position: null,
  };
}

/**
 * The commit marker of a transaction (`nats.transactionEvents`):
 * `{"id","lsn","xid","commitTime","events","changes"}` where `events` counts the events
 * published from the transaction and `changes` every change and message in it, published or not.
 */
export function encodeCommitMarker(id: string, open: OpenTransaction, published: number): string {
  const { info } = open;
  return (
    `{"id":"${id}","lsn":"${info.lsnText}","xid":${info.xid},"commitTime":"${info.commitTime}"` +
    `,"events":${published},"changes":${open.changeCount}}`
  );
}

/**
 * The commit marker of the open transaction, of which `published` events were published: its
 * body (UTF-8) and its headers, with the id (commit LSN, `COMMIT_MARKER`).
 */
export function commitMarker(open: OpenTransaction, published: number): { body: Buffer; meta: EventMeta } {
  const { idPrefix, lsnText, xid } = open.info;
  const body = utf8(encodeCommitMarker(eventId(idPrefix, COMMIT_MARKER), open, published));
  return { body, meta: { idPrefix, idNumber: COMMIT_MARKER, lsn: lsnText, xid, position: null } };
}

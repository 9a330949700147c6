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
import { UNCHANGED_TOAST, type Tuple, type TupleValue } from '../source/pgoutput/messages.js';
import type { Change, Column, OpenTransaction, RowChange } from './transaction.js';
import { valueToJson } from './values.js';

/**
 * What to write for a value its column's writer refused, instead of failing; receives the column,
 * the value's text and the error. Used only where a value may legitimately not match the current
 * catalog (a user-defined type that changed since the row was written).
 */
export type BadValue = (column: Column, text: string, err: unknown) => string;

/** Encodes a row change as its event JSON text. */
export function encodeChangeEvent(change: RowChange, badValue?: BadValue): string {
  const { relation, tx } = change;
  const columns = relation.columns;
  let unchanged: string[] | null = null;
  let data = '{}';
  if (change.newTuple) {
    const oldFull = change.oldKind === 'full' ? change.oldTuple : null;
    const r = writeRow(columns, change.newTuple, false, oldFull, badValue);
    data = r.json;
    unchanged = r.unchanged;
  }
  const dataOld = change.oldTuple
    ? writeRow(columns, change.oldTuple, change.oldKind === 'key', null, badValue).json
    : '{}';
  let json =
    `{"id":"${change.id}",${relation.jsonNames}` +
    `,"action":"${change.action}","data":${data},"dataOld":${dataOld}` +
    `,"commitTime":"${tx.commitTime}","lsn":"${tx.lsnText}","xid":${tx.xid},"position":${change.position}`;
  if (unchanged) json += `,"unchangedToastColumns":${JSON.stringify(unchanged)}`;
  if (change.truncate) {
    json += `,"truncate":{"cascade":${change.truncate.cascade},"restartIdentity":${change.truncate.restartIdentity}}`;
  }
  return json + '}';
}

function writeRow(
  columns: readonly Column[],
  tuple: Tuple,
  keyOnly: boolean,
  fallback: Tuple | null,
  badValue: BadValue | undefined,
): { json: string; unchanged: string[] | null } {
  let json = '{';
  let unchanged: string[] | null = null;
  let first = true;
  for (let i = 0; i < columns.length; i++) {
    const column = columns[i]!;
    if (keyOnly && !column.isKey) continue;
    let value = tuple[i] as TupleValue;
    if (value === UNCHANGED_TOAST) {
      const old = fallback ? (fallback[i] as TupleValue) : UNCHANGED_TOAST;
      if (old === UNCHANGED_TOAST) {
        (unchanged ??= []).push(column.name);
        continue;
      }
      value = old;
    }
    json +=
      (first ? '' : ',') +
      column.jsonKey +
      (badValue ? tolerant(column, value, badValue) : valueToJson(value, column.write));
    first = false;
  }
  return { json: json + '}', unchanged };
}

/** Transaction metadata of an event, sent as NATS headers next to `Nats-Msg-Id`. */
export interface EventMeta {
  /** Commit LSN (`X/Y`); for a non-transactional message, the message's own LSN. */
  lsn: string;
  /** Transaction id; `null` for a non-transactional message. */
  xid: number | null;
  /** Position in the transaction; `null` for a non-transactional message. */
  position: number | null;
}

/** The body of a change as published: event JSON for rows, the content itself for messages. */
export function encodeChange(change: Change, badValue?: BadValue): string | Uint8Array {
  return change.kind === 'row' ? encodeChangeEvent(change, badValue) : change.content;
}

function tolerant(
  column: Column,
  value: Exclude<TupleValue, typeof UNCHANGED_TOAST>,
  badValue: BadValue,
): string {
  try {
    return valueToJson(value, column.write);
  } catch (err) {
    if (typeof value !== 'string') throw err;
    return badValue(column, value, err);
  }
}

/** The transaction metadata of a change. */
export function changeMeta(change: Change): EventMeta {
  if (change.kind === 'row') return { lsn: change.tx.lsnText, xid: change.tx.xid, position: change.position };
  return change.tx
    ? { lsn: change.tx.lsnText, xid: change.tx.xid, position: change.position }
    : { lsn: change.lsnText, xid: null, position: null };
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

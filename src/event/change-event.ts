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
import type { Change, Column } from './transaction.js';
import { valueToJson } from './values.js';

/** Encodes a change as its event JSON text. */
export function encodeChangeEvent(change: Change): string {
  const { relation, tx } = change;
  const columns = relation.columns;
  let unchanged: string[] | null = null;
  let data = '{}';
  if (change.newTuple) {
    const oldFull = change.oldKind === 'full' ? change.oldTuple : null;
    const r = writeRow(columns, change.newTuple, false, oldFull);
    data = r.json;
    unchanged = r.unchanged;
  }
  const dataOld = change.oldTuple
    ? writeRow(columns, change.oldTuple, change.oldKind === 'key', null).json
    : '{}';
  let json =
    `{"id":"${change.id}","schema":${JSON.stringify(relation.schema)},"table":${JSON.stringify(relation.table)}` +
    `,"action":"${change.action}","data":${data},"dataOld":${dataOld}` +
    `,"commitTime":"${tx.commitTime}","lsn":"${tx.lsnText}","xid":${tx.xid}`;
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
    json += (first ? '' : ',') + column.jsonKey + valueToJson(value, column.write);
    first = false;
  }
  return { json: json + '}', unchanged };
}

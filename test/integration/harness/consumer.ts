/**
 * A consumer of snapshots and changes, as a user would write one: every event applied in stream
 * order by key (a snapshot row or an insert or update sets the row to `data`, a delete removes it).
 *
 * The oracle for "the consumer ends with `SELECT *`": `touchAll` updates every row of the tables in
 * one transaction that first writes a logical message. The UPDATE events after that message carry
 * each row as it is in the table, in the same JSON as the rest of the stream (the type tests show
 * that JSON to be what PostgreSQL stored); the consumer's state from the events before the message
 * must equal them exactly, key by key: a missing row, a row that came back after its delete, or an
 * older value shows as a difference.
 */
import assert from 'node:assert/strict';
import pg from 'pg';
import { parseLsn } from '../../../src/source/lsn.js';
import type { StoredEvent } from './jetstream.js';
import { confirmedFlush, type Names, type Servers } from './scenario.js';
import { waitFor } from './wait.js';

/** The prefix of the logical message that starts the touch. */
export const TOUCH_PREFIX = 'test_touch';

/** A table the consumer rebuilds: its name and key columns. */
export interface ConsumedTable {
  name: string;
  key: readonly string[];
}

/** The key of a row's data. */
function keyOf(table: ConsumedTable, row: Record<string, unknown>): string {
  return JSON.stringify(table.key.map((k) => row[k]));
}

/** What the consumer saw. */
export interface Consumed {
  /** Per table: key → row JSON, from every event before the touch. */
  state: Map<string, Map<string, string>>;
  /** Per table: key → row JSON, from the touch's UPDATE events. */
  truth: Map<string, Map<string, string>>;
  /** Snapshot events per table. */
  snapshotRows: Map<string, number>;
  /** End markers, in stream order. */
  ends: { table: string; backfill: string; state: string; rows: number; seq: number }[];
}

/** Applies the stream, in order, for `tables` (events of other tables are ignored). */
export function consume(events: readonly StoredEvent[], tables: readonly ConsumedTable[]): Consumed {
  const byName = new Map(tables.map((t) => [t.name, t]));
  const out: Consumed = {
    state: new Map(tables.map((t) => [t.name, new Map<string, string>()])),
    truth: new Map(tables.map((t) => [t.name, new Map<string, string>()])),
    snapshotRows: new Map(tables.map((t) => [t.name, 0])),
    ends: [],
  };
  let touched = false;
  for (const e of events) {
    if (e.subject.endsWith(`.message.${TOUCH_PREFIX}`)) {
      touched = true;
      continue;
    }
    const ev = e.event;
    const table = ev && byName.get(ev.table);
    if (!table) continue;
    if (ev.action === 'SNAPSHOT_END') {
      out.ends.push({
        table: ev.table,
        backfill: ev['backfill'] as string,
        state: ev['state'] as string,
        rows: ev['rows'] as number,
        seq: e.seq,
      });
      continue;
    }
    if (touched) {
      if (ev.action === 'UPDATE')
        out.truth.get(table.name)!.set(keyOf(table, ev.data), JSON.stringify(ev.data));
      continue;
    }
    const rows = out.state.get(table.name)!;
    if (ev.action === 'SNAPSHOT') out.snapshotRows.set(table.name, out.snapshotRows.get(table.name)! + 1);
    if (ev.action === 'DELETE') rows.delete(keyOf(table, ev.dataOld));
    else if (ev.action === 'TRUNCATE') rows.clear();
    else rows.set(keyOf(table, ev.data), JSON.stringify(ev.data));
  }
  return out;
}

/** Asserts that the consumer's state of every table equals the table as the touch showed it. */
export function assertStateEqualsTables(consumed: Consumed): void {
  for (const [name, truth] of consumed.truth) {
    const state = consumed.state.get(name)!;
    const missing = [...truth.keys()].filter((k) => !state.has(k));
    const extra = [...state.keys()].filter((k) => !truth.has(k));
    const differ = [...truth.keys()].filter((k) => state.has(k) && state.get(k) !== truth.get(k));
    assert.deepEqual(
      { missing: missing.slice(0, 5), extra: extra.slice(0, 5), differ: differ.slice(0, 5) },
      { missing: [], extra: [], differ: [] },
      `${name}: ${missing.length} rows missing, ${extra.length} rows that are not in the table, ` +
        `${differ.length} rows that differ` +
        (differ[0]
          ? `; e.g. ${differ[0]}: table ${truth.get(differ[0])}, consumer ${state.get(differ[0])}`
          : ''),
    );
  }
}

/** SQL of the touch: one transaction, the message first, then every row of each table updated. */
export function touchSql(tables: readonly ConsumedTable[]): string[] {
  return [
    'BEGIN',
    `SELECT pg_logical_emit_message(true, '${TOUCH_PREFIX}', '')`,
    ...tables.map((t) => `UPDATE ${t.name} SET ${t.key[0]} = ${t.key[0]}`),
    'COMMIT',
  ];
}

/** Runs the touch and waits until the slot confirmed it (then all of it is stored). */
export async function touchAndSettle(
  s: Pick<Servers, 'pg'>,
  names: Pick<Names, 'slot'>,
  tables: ConsumedTable[],
): Promise<void> {
  const c = new pg.Client({ connectionString: s.pg.connectionString });
  await c.connect();
  let end: bigint;
  try {
    for (const sql of touchSql(tables)) await c.query(sql);
    end = parseLsn((await c.query<{ l: string }>('SELECT pg_current_wal_lsn()::text AS l')).rows[0]!.l);
  } finally {
    await c.end();
  }
  await waitFor(async () => (await confirmedFlush(s, names.slot)) >= end, {
    timeoutMs: 120_000,
    intervalMs: 200,
    what: 'the touch stored',
  });
}

/** Asserts that no event id is stored twice. */
export function assertNoIdTwice(events: readonly StoredEvent[]): void {
  const seen = new Map<string, number>();
  const twice: string[] = [];
  for (const e of events) {
    if (seen.has(e.msgId)) twice.push(`${e.msgId} at seq ${seen.get(e.msgId)} and ${e.seq}`);
    seen.set(e.msgId, e.seq);
  }
  assert.deepEqual(twice.slice(0, 5), [], `${twice.length} event ids stored twice`);
}

/** Asserts that no key has two snapshot events of one backfill. */
export function assertNoRowSnapshottedTwice(
  events: readonly StoredEvent[],
  table: ConsumedTable,
  backfill: string,
): number {
  const seen = new Map<string, StoredEvent>();
  const twice: string[] = [];
  for (const e of events) {
    const ev = e.event;
    if (!ev || ev.table !== table.name || ev.action !== 'SNAPSHOT' || ev['backfill'] !== backfill) continue;
    const key = keyOf(table, ev.data);
    const first = seen.get(key);
    if (first) twice.push(`${key} at seq ${first.seq} (lsn ${first.event.lsn}) and ${e.seq} (lsn ${ev.lsn})`);
    seen.set(key, e);
  }
  assert.deepEqual(
    twice.slice(0, 5),
    [],
    `${twice.length} rows of ${table.name} snapshotted twice by ${backfill}`,
  );
  return seen.size;
}

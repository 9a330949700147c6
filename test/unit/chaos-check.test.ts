/**
 * The chaos suite's stream check finds what it says it finds: a faithful stream gives zero counts,
 * and a dropped, repeated, reordered, altered or foreign event gives exactly its count. Messages
 * are made here as pgwalstreams makes them (ids from the commit LSN and position, the headers).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventId, transactionIdPrefix } from '../../src/event/event-id.js';
import { formatLsn } from '../../src/source/lsn.js';
import { StreamChecker, zeroCounts, type Counts } from '../chaos/check.js';
import type { Fault } from '../chaos/faults.js';
import { Ledger, ledgerRow, type CommittedTx, type Op } from '../chaos/ledger.js';
import { TableRebuild } from '../chaos/rebuild.js';
import { FULL, keyOf, LEDGER, PLAIN, rowOf, type Row, type TableSpec } from '../chaos/schema.js';
import type { StoredMessage } from '../chaos/stream.js';

const PREFIX = 'chaos';

/** Two transactions: an insert and an update of the full-identity table, then a delete of a plain row. */
function committed(): { ledger: Ledger; txs: CommittedTx[] } {
  const ledger = new Ledger();
  const txs: CommittedTx[] = [
    transactionOf('w1-1', 700, [
      { table: FULL, action: 'insert', first: 10, count: 2, version: 1 },
      { table: FULL, action: 'update', first: 10, count: 1, version: 2 },
    ]),
    transactionOf('w1-2', 701, [
      { table: PLAIN, action: 'insert', first: 20, count: 1, version: 1 },
      { table: PLAIN, action: 'delete', first: 20, count: 1, version: 1 },
    ]),
  ];
  for (const tx of txs) ledger.record(tx, false);
  return { ledger, txs };
}

/** A transaction of writer 1: its ledger row and one change per key of `ops`. */
function transactionOf(txid: string, xid: number, ops: Op[]): CommittedTx {
  const changes = 1 + ops.reduce((n, op) => n + op.count, 0);
  return { txid, writer: 1, xid, ops, changes, committedAt: xid };
}

/** The messages pgwalstreams would store for the two transactions, in commit order. */
function faithfulStream(txs: CommittedTx[]): StoredMessage[] {
  const [first, second] = txs as [CommittedTx, CommittedTx];
  return [
    ...transaction(first, 0x1000n, [
      [LEDGER, 'INSERT', ledgerRow(first), {}],
      [FULL, 'INSERT', rowOf(FULL, 1, 10, 1), {}],
      [FULL, 'INSERT', rowOf(FULL, 1, 11, 1), {}],
      [FULL, 'UPDATE', rowOf(FULL, 1, 10, 2), rowOf(FULL, 1, 10, 1)],
    ]),
    ...transaction(second, 0x2000n, [
      [LEDGER, 'INSERT', ledgerRow(second), {}],
      [PLAIN, 'INSERT', rowOf(PLAIN, 1, 20, 1), {}],
      [PLAIN, 'DELETE', {}, keyOf(PLAIN, 20)],
    ]),
  ].map((m, i) => ({ ...m, seq: i + 1, storedAt: 5000 + i }));
}

type Change = [TableSpec, string, Row, Row];

function transaction(tx: CommittedTx, commitLsn: bigint, changes: Change[]): StoredMessage[] {
  const prefix = transactionIdPrefix(1, commitLsn);
  const lsn = formatLsn(commitLsn);
  return changes.map(([table, action, data, dataOld], position) => {
    const id = eventId(prefix, position);
    const body = {
      id,
      schema: 'public',
      table: table.name,
      action,
      data,
      dataOld,
      commitTime: '',
      lsn,
      xid: tx.xid,
      position,
    };
    return {
      seq: 0,
      storedAt: 0,
      subject: `${PREFIX}.public.${table.name}.${action.toLowerCase()}`,
      msgId: id,
      lsn,
      xid: String(tx.xid),
      position: String(position),
      body: JSON.stringify(body),
    };
  });
}

function check(messages: StoredMessage[], faults: Fault[] = []): ReturnType<StreamChecker['finish']> {
  const { ledger } = committed();
  const checker = new StreamChecker(ledger, PREFIX, faults, new TableRebuild());
  for (const m of messages) checker.add(m);
  return checker.finish();
}

function counts(changes: Partial<Counts>): Counts {
  return { ...zeroCounts(), ...changes };
}

describe('chaos stream check', () => {
  const { txs } = committed();
  const stream = faithfulStream(txs);

  test('a faithful stream has nothing to report', () => {
    const result = check(stream);
    assert.deepEqual(result.counts, zeroCounts());
    assert.equal(result.eventsRead, 7);
    assert.equal(result.changesExpected, 7);
    assert.equal(result.lateEvents, 0);
  });

  test('a dropped event is missing, and a dropped transaction is missing whole', () => {
    assert.deepEqual(check(stream.filter((m) => m.seq !== 3)).counts, counts({ missing: 1 }));
    const result = check(stream.slice(0, 4));
    assert.deepEqual(result.counts, counts({ missing: 3 }));
    assert.equal(result.transactionsMissing, 1);
  });

  test('an event stored twice is one duplicate, not an inversion', () => {
    const again = { ...stream[2]!, seq: 99 };
    assert.deepEqual(
      check([...stream.slice(0, 4), again, ...stream.slice(4)]).counts,
      counts({ 'duplicate-id': 1 }),
    );
  });

  test('a change carried again under another id is a duplicate change (and the change it hid is missing)', () => {
    const [first] = txs as [CommittedTx];
    const wrong = transaction(first, 0x1000n, [
      [LEDGER, 'INSERT', ledgerRow(first), {}],
      [FULL, 'INSERT', rowOf(FULL, 1, 10, 1), {}],
      [FULL, 'INSERT', rowOf(FULL, 1, 10, 1), {}],
      [FULL, 'UPDATE', rowOf(FULL, 1, 10, 2), rowOf(FULL, 1, 10, 1)],
    ]);
    assert.deepEqual(
      check([...wrong, ...stream.slice(4)]).counts,
      counts({ 'duplicate-change': 1, missing: 1 }),
    );
  });

  test('a transaction stored before an earlier one is an inversion of the stream and of its subjects', () => {
    // The second transaction's events, then the first's: a replay after a later commit was stored.
    const swapped = [...stream.slice(4), ...stream.slice(0, 4)].map((m, i) => ({ ...m, seq: i + 1 }));
    const result = check(swapped);
    // The ledger subject goes back once; the whole stream goes back once, at the first replayed event.
    assert.deepEqual(result.counts, counts({ 'inversion-stream': 1, 'inversion-subject': 1 }));
    assert.equal(result.lateEvents, 4);
  });

  test('changes of one transaction out of their order are an inversion', () => {
    const reordered = [stream[0]!, stream[2]!, stream[1]!, ...stream.slice(3)];
    assert.deepEqual(check(reordered).counts, counts({ 'inversion-stream': 1, 'inversion-subject': 1 }));
  });

  test('a value, an old row or a header that differs from the ledger is a content mismatch', () => {
    const altered = (i: number, edit: (body: Record<string, unknown>) => void): StoredMessage[] =>
      stream.map((m, j) => {
        if (j !== i) return m;
        const body = JSON.parse(m.body) as Record<string, unknown>;
        edit(body);
        return { ...m, body: JSON.stringify(body) };
      });
    assert.deepEqual(
      check(altered(1, (b) => ((b['data'] as Row)['payload'] = 'x'))).counts,
      counts({ content: 1 }),
    );
    assert.deepEqual(check(altered(3, (b) => (b['dataOld'] = {}))).counts, counts({ content: 1 }));
    assert.deepEqual(
      check(altered(6, (b) => (b['dataOld'] = rowOf(PLAIN, 1, 20, 1)))).counts,
      counts({ content: 1 }),
    );
    const badHeader = stream.map((m, j) => (j === 2 ? { ...m, position: '1' } : m));
    assert.deepEqual(check(badHeader).counts, counts({ content: 1, missing: 1 }));
  });

  test('an event of a transaction the ledger does not have is unexpected', () => {
    const stranger: CommittedTx = { txid: 'w9-1', writer: 9, xid: 999, ops: [], changes: 1, committedAt: 0 };
    const [foreign] = transaction(stranger, 0x3000n, [[LEDGER, 'INSERT', ledgerRow(stranger), {}]]);
    assert.deepEqual(check([...stream, { ...foreign!, seq: 8 }]).counts, counts({ unexpected: 1 }));
  });

  test('findings are put down to the fault that began last before them', () => {
    const faults: Fault[] = [
      { n: 1, kind: 'service-kill9', startedAt: 100, endedAt: 200, detail: '' },
      { n: 2, kind: 'nats-kill9', startedAt: 5002, endedAt: 5003, detail: '' },
    ];
    const result = check([...stream, { ...stream[5]!, seq: 8, storedAt: 6000 }], faults);
    assert.deepEqual(result.byFault.get('nats-kill9'), counts({ 'duplicate-id': 1 }));
    assert.equal(result.byFault.get('service-kill9'), undefined);
  });
});

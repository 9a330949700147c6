/**
 * Rows read over SQL as tuples (`Tuple.fromText`), and the snapshot events and markers written
 * from them (`writeSnapshotEvent`, `snapshotEndEvent`, `snapshotMeta`).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  snapshotEndEvent,
  snapshotMeta,
  writeChangeEvent,
  writeSnapshotEvent,
  type SnapshotPoint,
} from '../../src/event/change-event.js';
import { eventId, transactionIdPrefix } from '../../src/event/event-id.js';
import { toRelation, TransactionAssembler, type RowChange } from '../../src/event/transaction.js';
import type { RelationMessage } from '../../src/source/pgoutput/messages.js';
import { ColumnKind, Tuple } from '../../src/source/pgoutput/tuple.js';
import { withTuples, type PlainMessage } from '../builders/tuples.js';

/** Each column's kind, start and end. */
function spans(t: Tuple): [number, number, number][] {
  return Array.from({ length: t.length }, (_, i) => [t.kind(i), t.start(i), t.end(i)]);
}

describe('Tuple.fromText and detach', () => {
  test('gives each value its kind, its bytes and its value', () => {
    const t = Tuple.fromText(['1', null, 'ann', 'Straße', '', '✓']);
    assert.equal(t.length, 6);
    assert.deepEqual(spans(t), [
      [ColumnKind.Text, 0, 1],
      [ColumnKind.Null, 1, 1],
      [ColumnKind.Text, 1, 4],
      [ColumnKind.TextUtf8, 4, 11], // ß is two bytes in UTF-8
      [ColumnKind.Text, 11, 11],
      [ColumnKind.TextUtf8, 11, 14],
    ]);
    assert.equal(t.bytes.length, 14);
    assert.equal(t.bytes.toString('utf8'), '1annStraße✓');
    assert.deepEqual(t.values(), ['1', null, 'ann', 'Straße', '', '✓']);
  });

  test('makes an empty tuple and a tuple of nulls', () => {
    assert.equal(Tuple.fromText([]).length, 0);
    const nulls = Tuple.fromText([null, null]);
    assert.deepEqual(spans(nulls), [
      [ColumnKind.Null, 0, 0],
      [ColumnKind.Null, 0, 0],
    ]);
    assert.equal(nulls.bytes.length, 0);
    assert.deepEqual(nulls.values(), [null, null]);
  });

  test('detach keeps the values in a buffer of their own', () => {
    const t = Tuple.fromText(['42', null, 'née']);
    const d = t.detach();
    assert.notEqual(d.bytes, t.bytes);
    assert.deepEqual(spans(d), spans(t));
    t.bytes.fill(0x78); // the original buffer reused for the next message
    assert.deepEqual(d.values(), ['42', null, 'née']);
  });

  test('detach copies only the bytes of the values, from a tuple inside a larger buffer', () => {
    // A message with 3 bytes before the values and 2 after: columns "ab", NULL, "é".
    const message = Buffer.from('HDRab\u00e9TL', 'utf8');
    const t = new Tuple(message, [ColumnKind.Text, 3, 5, ColumnKind.Null, 5, 5, ColumnKind.TextUtf8, 5, 7]);
    const d = t.detach();
    assert.equal(d.bytes.toString('utf8'), 'abé');
    assert.deepEqual(spans(d), [
      [ColumnKind.Text, 0, 2],
      [ColumnKind.Null, 2, 2],
      [ColumnKind.TextUtf8, 2, 4],
    ]);
    assert.deepEqual(d.values(), ['ab', null, 'é']);
  });
});

/** `users (id int8 PRIMARY KEY, name text, score numeric, doc jsonb)`. */
const usersMessage: RelationMessage = {
  tag: 'relation',
  relationId: 16384,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'd',
  columns: [
    { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'score', typeOid: 1700, typeMod: -1 },
    { isKey: false, name: 'doc', typeOid: 3802, typeMod: -1 },
  ],
};
const users = toRelation(usersMessage, undefined);

const NS = 12345;
const LSN = 0x16b3748n;
const COMMIT_TIME = '2024-01-01T10:00:01.123456Z';

/** A chunk's point: the high watermark's transaction. */
const chunkPoint: SnapshotPoint = {
  backfill: 'bf-01',
  lsnText: '0/16B3748',
  commitTime: COMMIT_TIME,
  xid: 750,
  idPrefix: transactionIdPrefix(NS, LSN),
};
/** An initial snapshot's point: no transaction, the LSN below the consistent point. */
const initialPoint: SnapshotPoint = {
  backfill: 'initial-01',
  lsnText: '0/2000000',
  commitTime: '2024-01-02T00:00:00.000000Z',
  xid: null,
  idPrefix: transactionIdPrefix(NS, 0x2000000n - 1n),
};

const ROW = ['9223372036854775807', 'ann "a" ✓', '1.50', '{"b": [1, 2.0]}'];

describe('writeSnapshotEvent', () => {
  test('writes the row as a SNAPSHOT event of the chunk point', () => {
    const json = writeSnapshotEvent(users, Tuple.fromText(ROW), chunkPoint, 3).toString('utf8');
    assert.equal(
      json,
      `{"id":"${eventId(chunkPoint.idPrefix, 3)}","schema":"public","table":"users","action":"SNAPSHOT",` +
        `"data":{"id":9223372036854775807,"name":"ann \\"a\\" ✓","score":1.50,"doc":{"b": [1, 2.0]}},` +
        `"dataOld":{},"commitTime":"${COMMIT_TIME}","lsn":"0/16B3748","xid":750,"position":3,"backfill":"bf-01"}`,
    );
  });

  test('writes a null xid for an initial snapshot, and SQL NULL as null', () => {
    const row = Tuple.fromText(['1', null, null, null]);
    const json = writeSnapshotEvent(users, row, initialPoint, 0).toString('utf8');
    assert.equal(
      json,
      `{"id":"${eventId(initialPoint.idPrefix, 0)}","schema":"public","table":"users","action":"SNAPSHOT",` +
        `"data":{"id":1,"name":null,"score":null,"doc":null},"dataOld":{},` +
        `"commitTime":"2024-01-02T00:00:00.000000Z","lsn":"0/2000000","xid":null,"position":0,"backfill":"initial-01"}`,
    );
  });

  test('writes each point with its own tail, whichever came before', () => {
    const row = Tuple.fromText(['1', 'a', '2', '{}']);
    const tails = [chunkPoint, initialPoint, chunkPoint].map((p) => {
      const e = JSON.parse(writeSnapshotEvent(users, row, p, 1).toString('utf8')) as Record<string, unknown>;
      return [e.lsn, e.xid, e.backfill];
    });
    assert.deepEqual(tails, [
      ['0/16B3748', 750, 'bf-01'],
      ['0/2000000', null, 'initial-01'],
      ['0/16B3748', 750, 'bf-01'],
    ]);
  });

  test('writes the same data as an INSERT of the row, byte for byte', () => {
    const assembler = new TransactionAssembler(NS);
    const messages: PlainMessage[] = [
      usersMessage,
      { tag: 'begin', finalLsn: LSN, commitTime: 0n, xid: 750 },
      { tag: 'insert', relationId: 16384, newTuple: ROW },
    ];
    const [insert] = messages.flatMap((m) => assembler.apply(withTuples(m))) as RowChange[];
    assert.ok(insert);
    const data = (json: string) => {
      const from = json.indexOf('"data":');
      return json.slice(from, json.indexOf(',"dataOld":', from));
    };
    const change = writeChangeEvent(insert).toString('utf8');
    const snapshot = writeSnapshotEvent(insert.relation, Tuple.fromText(ROW), chunkPoint, 0).toString('utf8');
    assert.equal(data(snapshot), data(change));
    assert.match(data(change), /^"data":\{"id":9223372036854775807,/);
    const parsed = (json: string) => JSON.parse(json) as Record<string, unknown>;
    assert.deepEqual(parsed(snapshot).data, parsed(change).data);
    assert.equal(parsed(change).action, 'INSERT');
    assert.equal(parsed(snapshot).id, parsed(change).id, 'the same LSN and position give the same id');
  });
});

describe('snapshotEndEvent and snapshotMeta', () => {
  test('the marker names the backfill, its state and the rows of the table', () => {
    const json = snapshotEndEvent(users, chunkPoint, 5, { state: 'done', rows: 5 }).toString('utf8');
    assert.equal(
      json,
      `{"id":"${eventId(chunkPoint.idPrefix, 5)}","schema":"public","table":"users","action":"SNAPSHOT_END",` +
        `"backfill":"bf-01","state":"done","rows":5,"commitTime":"${COMMIT_TIME}","lsn":"0/16B3748",` +
        `"xid":750,"position":5}`,
    );
  });

  test('the marker of an initial snapshot has a null xid; names are escaped as JSON', () => {
    const table = { schema: 'my "schema"', table: 'Straße\\x' };
    const json = snapshotEndEvent(table, initialPoint, 0, { state: 'cancelled', rows: 0 }).toString('utf8');
    const e = JSON.parse(json) as Record<string, unknown>;
    assert.deepEqual(e, {
      id: eventId(initialPoint.idPrefix, 0),
      schema: 'my "schema"',
      table: 'Straße\\x',
      action: 'SNAPSHOT_END',
      backfill: 'initial-01',
      state: 'cancelled',
      rows: 0,
      commitTime: '2024-01-02T00:00:00.000000Z',
      lsn: '0/2000000',
      xid: null,
      position: 0,
    });
  });

  test('the headers carry the id, LSN, xid and position of the point', () => {
    assert.deepEqual(snapshotMeta(chunkPoint, 7), {
      idPrefix: chunkPoint.idPrefix,
      idNumber: 7,
      lsn: '0/16B3748',
      xid: 750,
      position: 7,
    });
    assert.deepEqual(snapshotMeta(initialPoint, 0), {
      idPrefix: initialPoint.idPrefix,
      idNumber: 0,
      lsn: '0/2000000',
      xid: null,
      position: 0,
    });
  });
});

/**
 * The DBLog chunk window and its watermark messages (`backfill/window.ts`), with row changes made
 * by the transaction assembler from pgoutput messages, as the session hands them over.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rowKeyOf } from '../../src/backfill/row-key.js';
import { rowKey } from '../../src/backfill/table-reader.js';
import {
  ChunkWindow,
  decodeWatermark,
  encodeWatermark,
  WATERMARK_PREFIX,
  type Watermark,
} from '../../src/backfill/window.js';
import { TransactionAssembler, type RowChange } from '../../src/event/transaction.js';
import { HEARTBEAT_PREFIX } from '../../src/source/slot-status.js';
import { UNCHANGED_TOAST, type PgoutputMessage } from '../../src/source/pgoutput/messages.js';
import { Tuple } from '../../src/source/pgoutput/tuple.js';
import { withTuples, type PlainMessage } from '../builders/tuples.js';

const USERS = 16384;
const ORDERS = 16385;

/** `users (id int8 PRIMARY KEY, name text, doc text)`, default replica identity. */
const users: PlainMessage = {
  tag: 'relation',
  relationId: USERS,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'd',
  columns: [
    { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'doc', typeOid: 25, typeMod: -1 },
  ],
};

/** `orders (id int8 PRIMARY KEY)`: the same key values, another relation id. */
const orders: PlainMessage = {
  tag: 'relation',
  relationId: ORDERS,
  schema: 'public',
  name: 'orders',
  replicaIdentity: 'd',
  columns: [{ isKey: true, name: 'id', typeOid: 20, typeMod: -1 }],
};

/**
 * `docs (body text, tenant int4, slug text, PRIMARY KEY (tenant, slug))` with REPLICA IDENTITY
 * FULL: a composite key in another order than the columns, and a key column that can be TOASTed.
 */
const docs: PlainMessage = {
  tag: 'relation',
  relationId: 16386,
  schema: 'public',
  name: 'docs',
  replicaIdentity: 'f',
  columns: [
    { isKey: true, name: 'body', typeOid: 25, typeMod: -1 },
    { isKey: true, name: 'tenant', typeOid: 23, typeMod: -1 },
    { isKey: true, name: 'slug', typeOid: 25, typeMod: -1 },
  ],
};

/** An insert of a row given as its text, its tuple made as the chunk reader makes one. */
const insert = (relationId: number, row: (string | null)[]): PgoutputMessage => ({
  tag: 'insert',
  relationId,
  newTuple: Tuple.fromText(row),
});

/** The row changes of one transaction holding `messages`, after the relations are described. */
function changesOf(...messages: (PlainMessage | PgoutputMessage)[]): RowChange[] {
  const assembler = new TransactionAssembler(7);
  const all: (PlainMessage | PgoutputMessage)[] = [
    users,
    orders,
    docs,
    { tag: 'begin', finalLsn: 0x1000n, commitTime: 0n, xid: 900 },
    ...messages,
    { tag: 'commit', flags: 0, commitLsn: 0x1000n, endLsn: 0x1030n, commitTime: 0n },
  ];
  // withTuples keeps a tuple that is one already.
  return all.flatMap((m) => assembler.apply(withTuples(m as PlainMessage))) as RowChange[];
}

/** The one change of a transaction holding `message`. */
function changeOf(message: PlainMessage | PgoutputMessage): RowChange {
  const [change, ...rest] = changesOf(message);
  assert.ok(change && rest.length === 0, 'one change');
  return change;
}

/** A window on `users` (key `id`) that is open. */
function openUsersWindow(): ChunkWindow {
  const w = new ChunkWindow(USERS, ['id']);
  w.low();
  return w;
}

const key = (...values: (string | null)[]) => rowKeyOf(values);

describe('watermarks', () => {
  test('encode and decode each other, for both marks', () => {
    for (const w of [
      { backfill: 'bf-01J', chunk: 0, token: 'a1b2c3', mark: 'low' },
      { backfill: 'bf "quoted" ✓', chunk: 4_000_000, token: '', mark: 'high' },
    ] satisfies Watermark[]) {
      const text = encodeWatermark(w);
      assert.deepEqual(JSON.parse(text), w);
      assert.deepEqual(decodeWatermark(Buffer.from(text, 'utf8')), w);
    }
  });

  test('keep only the four fields of a message that has more', () => {
    const content = Buffer.from('{"backfill":"b","chunk":2,"token":"t","mark":"high","extra":true}');
    assert.deepEqual(decodeWatermark(content), { backfill: 'b', chunk: 2, token: 't', mark: 'high' });
  });

  test('are not read without the token of their attempt', () => {
    assert.equal(decodeWatermark(Buffer.from('{"backfill":"b","chunk":2,"mark":"high"}')), null);
  });

  test('are not read from junk: not JSON, not an object, a missing or mistyped field, another mark', () => {
    const junk = [
      '',
      'low',
      '{"backfill":"b","chunk":1,"mark":"low"',
      'null',
      '[1,2]',
      '42',
      '{"chunk":1,"mark":"low"}',
      '{"backfill":"b","mark":"low"}',
      '{"backfill":"b","chunk":1}',
      '{"backfill":7,"chunk":1,"mark":"low"}',
      '{"backfill":"b","chunk":"1","mark":"low"}',
      '{"backfill":"b","chunk":1,"mark":"LOW"}',
      '{"backfill":"b","chunk":1,"mark":"middle"}',
    ];
    for (const text of junk) {
      assert.equal(decodeWatermark(Buffer.from(text, 'utf8')), null, text);
    }
    assert.equal(decodeWatermark(new Uint8Array([0xff, 0xfe, 0x00])), null, 'bytes that are not UTF-8');
  });

  test('have a prefix of their own, apart from the heartbeat', () => {
    assert.equal(WATERMARK_PREFIX, 'pgwalstreams.watermark');
    assert.notEqual(WATERMARK_PREFIX, HEARTBEAT_PREFIX);
  });
});

describe('ChunkWindow', () => {
  test('is closed until the low watermark and after the high one', () => {
    const w = new ChunkWindow(USERS, ['id']);
    assert.deepEqual([w.open, w.sawLow], [false, false]);
    w.low();
    assert.deepEqual([w.open, w.sawLow], [true, true]);
    w.high();
    assert.deepEqual([w.open, w.sawLow], [false, true]);
  });

  test('an insert between the watermarks drops its key, and only it', () => {
    const w = openUsersWindow();
    w.changed(changeOf(insert(USERS, ['1', 'ann', 'x'])));
    w.high();
    assert.equal(w.keeps(key('1')), false);
    assert.equal(w.keeps(key('2')), true);
    assert.equal(w.changedKeys, 1);
  });

  test('an update of a non-key column drops the key of its new row', () => {
    const w = openUsersWindow();
    w.changed(
      changeOf({
        tag: 'update',
        relationId: USERS,
        oldKind: null,
        oldTuple: null,
        newTuple: ['2', 'bo', 'y'],
      }),
    );
    assert.equal(w.keeps(key('2')), false);
    assert.equal(w.changedKeys, 1);
  });

  test('an update that changes the key drops the old key and the new one', () => {
    const w = openUsersWindow();
    w.changed(
      changeOf({
        tag: 'update',
        relationId: USERS,
        oldKind: 'key',
        oldTuple: ['1', null, null], // the key image: key columns only, others null
        newTuple: ['5', 'ann', 'x'],
      }),
    );
    assert.equal(w.keeps(key('1')), false);
    assert.equal(w.keeps(key('5')), false);
    assert.equal(w.keeps(key('3')), true);
    assert.equal(w.changedKeys, 2);
  });

  test('a delete drops the key of its old key image', () => {
    const w = openUsersWindow();
    w.changed(changeOf({ tag: 'delete', relationId: USERS, oldKind: 'key', oldTuple: ['3', null, null] }));
    assert.equal(w.keeps(key('3')), false);
    assert.equal(w.keeps(key(null)), true, 'the null columns of the key image are no key');
    assert.equal(w.changedKeys, 1);
  });

  test('changes before the low watermark and after the high one are not counted', () => {
    const w = new ChunkWindow(USERS, ['id']);
    const [before, during, after] = changesOf(
      insert(USERS, ['1', 'a', null]),
      insert(USERS, ['2', 'b', null]),
      insert(USERS, ['3', 'c', null]),
    );
    w.changed(before!);
    w.low();
    w.changed(during!);
    w.high();
    w.changed(after!);
    assert.deepEqual(
      ['1', '2', '3'].map((id) => w.keeps(key(id))),
      [true, false, true],
    );
  });

  test("another table's changes are not counted, though their keys are the same", () => {
    const w = openUsersWindow();
    for (const change of changesOf(
      insert(ORDERS, ['1']),
      { tag: 'delete', relationId: ORDERS, oldKind: 'key', oldTuple: ['2'] },
      { tag: 'truncate', cascade: false, restartIdentity: false, relationIds: [ORDERS] },
    )) {
      w.changed(change);
    }
    assert.equal(w.keeps(key('1')), true);
    assert.equal(w.keeps(key('2')), true);
    assert.equal(w.changedKeys, 0);
  });

  test('a TRUNCATE of the table drops every row', () => {
    const w = openUsersWindow();
    const changes = changesOf({
      tag: 'truncate',
      cascade: true,
      restartIdentity: false,
      relationIds: [ORDERS, USERS],
    });
    for (const change of changes) w.changed(change);
    for (const id of ['1', '2', 'anything']) assert.equal(w.keeps(key(id)), false);
    assert.equal(w.changedKeys, Infinity);
  });

  test('an update whose key is unchanged TOAST and that has no old image drops every row', () => {
    const w = new ChunkWindow(docs.relationId, ['tenant', 'body']);
    w.low();
    w.changed(
      changeOf({
        tag: 'update',
        relationId: docs.relationId,
        oldKind: null,
        oldTuple: null,
        newTuple: [UNCHANGED_TOAST, '1', 'intro'],
      }),
    );
    assert.equal(w.keeps(key('1', 'long body')), false);
    assert.equal(w.keeps(key('2', 'other')), false);
    assert.equal(w.changedKeys, Infinity);
  });

  test('an unchanged TOASTed key with an old image takes the key from the old image', () => {
    const w = new ChunkWindow(docs.relationId, ['tenant', 'body']);
    w.low();
    w.changed(
      changeOf({
        tag: 'update',
        relationId: docs.relationId,
        oldKind: 'full',
        oldTuple: ['long body', '1', 'intro'],
        newTuple: [UNCHANGED_TOAST, '1', 'renamed'],
      }),
    );
    assert.equal(w.keeps(key('1', 'long body')), false);
    assert.equal(w.keeps(key('2', 'long body')), true);
    assert.equal(w.changedKeys, 1);
  });

  test('a composite key is matched in key order, as rowKey makes it from a chunk row', () => {
    // The chunk reads the columns in table order (body, tenant, slug); the key is (tenant, slug).
    const w = new ChunkWindow(docs.relationId, ['tenant', 'slug']);
    w.low();
    w.changed(changeOf(insert(docs.relationId, ['text', '7', 'intro'])));
    w.high();
    const keyIndexes = [1, 2];
    assert.equal(w.keeps(rowKey(['old text', '7', 'intro'], keyIndexes)), false);
    assert.equal(w.keeps(rowKey(['text', '7', 'other'], keyIndexes)), true);
    assert.equal(
      w.keeps(rowKey(['text', 'intro', '7'], keyIndexes)),
      true,
      'the same values in another order',
    );
  });

  test('a relation that lost a key column drops every row', () => {
    const w = new ChunkWindow(USERS, ['id', 'tenant']);
    w.low();
    w.changed(changeOf(insert(USERS, ['1', 'ann', null])));
    assert.equal(w.keeps(key('1', null)), false);
    assert.equal(w.changedKeys, Infinity);
  });
});

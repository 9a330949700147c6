import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  changeMeta,
  encodeChange,
  encodeChangeEvent,
  encodeCommitMarker,
} from '../../src/event/change-event.js';
import { decodeEventId, eventId } from '../../src/event/event-id.js';
import {
  COMMIT_MARKER,
  NON_TRANSACTIONAL,
  TransactionAssembler,
  type Change,
  type RowChange,
} from '../../src/event/transaction.js';
import { DecodeError } from '../../src/errors.js';
import { UNCHANGED_TOAST, type PgoutputMessage } from '../../src/source/pgoutput/messages.js';
import { withTuples, type PlainMessage } from '../builders/tuples.js';

const NS = 12345;
// 2024-01-01T10:00:01.123456Z in microseconds since 2000-01-01.
const COMMIT_TIME = BigInt(Date.UTC(2024, 0, 1, 10, 0, 1) - Date.UTC(2000, 0, 1)) * 1000n + 123456n;

const begin: PlainMessage = { tag: 'begin', finalLsn: 0x16b3748n, commitTime: COMMIT_TIME, xid: 750 };
const commit: PlainMessage = {
  tag: 'commit',
  flags: 0,
  commitLsn: 0x16b3748n,
  endLsn: 0x16b3778n,
  commitTime: COMMIT_TIME,
};
const users: PlainMessage = {
  tag: 'relation',
  relationId: 16384,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'd',
  columns: [
    { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
    { isKey: false, name: 'active', typeOid: 16, typeMod: -1 },
    { isKey: false, name: 'doc', typeOid: 3802, typeMod: -1 },
  ],
};

/** The assembler, fed messages written with their tuples as arrays of values. */
class PlainAssembler extends TransactionAssembler {
  override apply(msg: PlainMessage | PgoutputMessage): Change[] {
    return super.apply(withTuples(msg as PlainMessage));
  }
}

function runAll(...msgs: PlainMessage[]): Change[] {
  const a = new PlainAssembler(NS);
  return msgs.flatMap((m) => a.apply(m));
}

/** Like runAll, for row changes only. */
function run(...msgs: PlainMessage[]): RowChange[] {
  return runAll(...msgs).map((c) => {
    assert.equal(c.kind, 'row');
    return c;
  });
}

/** The id of a change, as its headers give it (`Nats-Msg-Id`). */
const idOf = (c: Change) => {
  const { idPrefix, idNumber } = changeMeta(c);
  return eventId(idPrefix, idNumber);
};

/** The headers' metadata of a change, besides its id. */
const meta = (c: Change) => {
  const { idPrefix: _prefix, idNumber: _number, ...rest } = changeMeta(c);
  return rest;
};

const event = (c: RowChange) => JSON.parse(encodeChangeEvent(c)) as Record<string, unknown>;

describe('transaction assembly and events', () => {
  test('insert becomes a wal-listener compatible event', () => {
    const [c] = run(begin, users, {
      tag: 'insert',
      relationId: 16384,
      newTuple: ['9007199254740993', 'ann', 't', '{"a":1}'],
    });
    assert.ok(c);
    const text = encodeChangeEvent(c);
    assert.ok(text.includes('"id":9007199254740993'), 'int8 keeps every digit in the JSON text');
    assert.deepEqual(event(c), {
      id: idOf(c),
      schema: 'public',
      table: 'users',
      action: 'INSERT',
      data: { id: 9007199254740992, name: 'ann', active: true, doc: { a: 1 } }, // JSON.parse rounds; the text above does not
      dataOld: {},
      commitTime: '2024-01-01T10:00:01.123456Z',
      lsn: '0/16B3748',
      xid: 750,
      position: 0,
    });
    assert.deepEqual(decodeEventId(idOf(c)), { namespace: NS, commitLsn: 0x16b3748n, position: 0 });
  });

  test('positions count every change of the transaction, from 0', () => {
    const changes = run(
      begin,
      users,
      { tag: 'insert', relationId: 16384, newTuple: ['1', 'a', 'f', null] },
      { tag: 'delete', relationId: 16384, oldKind: 'key', oldTuple: ['1', null, null, null] },
      { tag: 'truncate', cascade: true, restartIdentity: false, relationIds: [16384, 16384] },
      commit,
    );
    assert.deepEqual(
      changes.map((c) => [c.position, c.action]),
      [
        [0, 'INSERT'],
        [1, 'DELETE'],
        [2, 'TRUNCATE'],
        [3, 'TRUNCATE'],
      ],
    );
    assert.equal(new Set(changes.map((c) => idOf(c))).size, 4);
  });

  test('delete with the default identity publishes the key columns only', () => {
    const [c] = run(begin, users, {
      tag: 'delete',
      relationId: 16384,
      oldKind: 'key',
      oldTuple: ['7', null, null, null],
    });
    const e = event(c!);
    assert.deepEqual(e['data'], {});
    assert.deepEqual(e['dataOld'], { id: 7 });
  });

  test('update with a full old row, and truncate options', () => {
    const [u, t] = run(
      begin,
      users,
      {
        tag: 'update',
        relationId: 16384,
        oldKind: 'full',
        oldTuple: ['7', 'old', 'f', null],
        newTuple: ['7', 'new', 't', '[]'],
      },
      { tag: 'truncate', cascade: true, restartIdentity: true, relationIds: [16384] },
    );
    assert.deepEqual(event(u!)['data'], { id: 7, name: 'new', active: true, doc: [] });
    assert.deepEqual(event(u!)['dataOld'], { id: 7, name: 'old', active: false, doc: null });
    assert.deepEqual(event(t!)['truncate'], { cascade: true, restartIdentity: true });
    assert.deepEqual(event(t!)['data'], {});
  });

  test('unchanged TOAST values are never published as null', () => {
    const [withoutOld, withOld] = run(
      begin,
      users,
      {
        tag: 'update',
        relationId: 16384,
        oldKind: null,
        oldTuple: null,
        newTuple: ['1', UNCHANGED_TOAST, 't', UNCHANGED_TOAST],
      },
      {
        tag: 'update',
        relationId: 16384,
        oldKind: 'full',
        oldTuple: ['1', 'long text', 't', '{"k":2}'],
        newTuple: ['1', UNCHANGED_TOAST, 'f', UNCHANGED_TOAST],
      },
    );
    const a = event(withoutOld!);
    assert.deepEqual(a['data'], { id: 1, active: true });
    assert.deepEqual(a['unchangedToastColumns'], ['name', 'doc']);
    const b = event(withOld!);
    assert.deepEqual(b['data'], { id: 1, name: 'long text', active: false, doc: { k: 2 } });
    assert.equal(b['unchangedToastColumns'], undefined);
  });

  test('a new Relation message changes the column mapping from then on', () => {
    const a = new PlainAssembler(NS);
    a.apply(begin);
    a.apply(users);
    const before = a.apply({ tag: 'insert', relationId: 16384, newTuple: ['1', 'a', 't', null] });
    a.apply({
      ...users,
      columns: [
        { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
        { isKey: false, name: 'full_name', typeOid: 25, typeMod: -1 },
      ],
    } as PlainMessage);
    const after = a.apply({ tag: 'insert', relationId: 16384, newTuple: ['2', 'b'] });
    assert.deepEqual(event(before[0] as RowChange)['data'], { id: 1, name: 'a', active: true, doc: null });
    assert.deepEqual(event(after[0] as RowChange)['data'], { id: 2, full_name: 'b' });
  });

  test('protocol violations are DecodeErrors', () => {
    const a = new PlainAssembler(NS);
    assert.throws(() => a.apply({ tag: 'insert', relationId: 1, newTuple: [] }), DecodeError); // no begin
    a.apply(begin);
    assert.throws(() => a.apply({ tag: 'insert', relationId: 1, newTuple: [] }), DecodeError); // unknown relation
    a.apply(users);
    assert.throws(() => a.apply({ tag: 'insert', relationId: 16384, newTuple: ['1'] }), DecodeError); // width
    assert.throws(() => a.apply({ ...commit, commitLsn: 1n } as PlainMessage), DecodeError); // lsn mismatch
    assert.throws(() => a.apply(begin), DecodeError); // nested begin
    a.apply(commit);
    assert.equal(a.inTransaction, false);
    assert.throws(() => a.apply(commit), DecodeError); // commit without begin
  });

  test('logical messages: transactional ones take a position, others stand alone', () => {
    const a = new PlainAssembler(NS);
    const content = new Uint8Array([0x7b, 0x7d]);
    const lone = a.apply({ tag: 'message', transactional: false, lsn: 0x500n, prefix: 'hb', content });
    a.apply(begin);
    a.apply(users);
    const [row] = a.apply({ tag: 'insert', relationId: 16384, newTuple: ['1', 'a', 't', null] });
    const [msg] = a.apply({
      tag: 'message',
      transactional: true,
      lsn: 0x16b3700n,
      prefix: 'outbox',
      content,
    });
    assert.equal(a.openTransaction?.changeCount, 2);
    a.apply(commit);

    assert.equal(lone[0]?.kind, 'message');
    assert.deepEqual(meta(lone[0]), { lsn: '0/500', xid: null, position: null });
    assert.deepEqual(decodeEventId(idOf(lone[0])), {
      namespace: NS,
      commitLsn: 0x500n,
      position: NON_TRANSACTIONAL,
    });
    assert.equal(encodeChange(lone[0]), content, 'a message is published as its content');
    assert.deepEqual(meta(row!), { lsn: '0/16B3748', xid: 750, position: 0 });
    assert.deepEqual(meta(msg!), { lsn: '0/16B3748', xid: 750, position: 1 });
    assert.equal(decodeEventId(idOf(msg!)).position, 1);
    assert.throws(
      () => a.apply({ tag: 'message', transactional: true, lsn: 1n, prefix: 'x', content }),
      DecodeError,
      'a transactional message outside a transaction',
    );
  });

  test('the commit marker counts published events and all changes', () => {
    const a = new PlainAssembler(NS);
    a.apply(begin);
    a.apply(users);
    a.apply({ tag: 'insert', relationId: 16384, newTuple: ['1', 'a', 't', null] });
    a.apply({ tag: 'insert', relationId: 16384, newTuple: ['2', 'b', 't', null] });
    const open = a.openTransaction!;
    const id = eventId(open.info.idPrefix, COMMIT_MARKER);
    assert.deepEqual(JSON.parse(encodeCommitMarker(id, open, 1)), {
      id,
      lsn: '0/16B3748',
      xid: 750,
      commitTime: '2024-01-01T10:00:01.123456Z',
      events: 1,
      changes: 2,
    });
  });
});

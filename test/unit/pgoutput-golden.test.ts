/**
 * Golden tests: pgoutput messages captured from a real PostgreSQL 15.20 server, decoded and
 * compared with values written down from the SQL that produced them.
 *
 * Captured with `pg_logical_slot_peek_binary_changes('golden', NULL, NULL, 'proto_version', '1',
 * 'publication_names', 'pub', 'messages', 'true')` (and `'binary', 'true'` for the binary set)
 * after this workload on a fresh UTF-8 cluster with `wal_level=logical`:
 *
 * ```sql
 * create type mood as enum ('sad', 'ok', 'happy');
 * create table users (id int primary key, email text not null, balance numeric(12,2), note text);
 * alter table users alter column note set storage external;
 * create table items (id int, name text, feeling mood);
 * alter table items replica identity full;
 * create publication pub for table users, items;
 * select pg_create_logical_replication_slot('golden', 'pgoutput');
 * insert into users values (1, 'zoë@例え.jp', 12.50, repeat('x', 10000));  -- xid 730
 * update users set email = 'b@example.org' where id = 1;                     -- 731: note is unchanged TOAST
 * update users set id = 2 where id = 1;                                      -- 732: the old key is sent
 * begin;                                                                     -- 733
 * insert into items values (7, 'lamp', 'happy');
 * update items set name = 'desk lamp' where id = 7;
 * delete from items where id = 7;
 * select pg_logical_emit_message(true, 'audit', '\x00ff0a'::bytea);
 * commit;
 * select pg_logical_emit_message(false, 'hb', ''::bytea);                    -- not transactional
 * delete from users where id = 2;                                            -- 734
 * truncate items restart identity cascade;                                   -- 735
 * insert into items values (8, null, null);                                  -- 736
 * select pg_replication_origin_create('node_a');
 * select pg_replication_origin_session_setup('node_a');
 * begin;                                                                     -- 738
 * select pg_replication_origin_xact_setup('1/A00', '2024-01-01 10:00:00+00');
 * insert into items values (9, 'from origin', 'ok');
 * commit;
 * ```
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError } from '../../src/errors.js';
import { decodePgoutput } from '../../src/source/pgoutput/decoder.js';
import { UNCHANGED_TOAST } from '../../src/source/pgoutput/messages.js';
import { plain, type PlainMessage } from '../builders/tuples.js';
import { parseLsn } from '../../src/source/lsn.js';
import { hexBytes } from '../builders/pgoutput-writer.js';

const USERS = 16_391;
const ITEMS = 16_398;
const MOOD = 16_385;

// Commit times as sent by the server, µs since 2000-01-01 UTC (the capture ran in 2026).
const T730 = 0x0003_03fc_ad06_de0bn;
const T731 = 0x0003_03fc_ad06_e625n;
const T732 = 0x0003_03fc_ad06_ed87n;
const T733 = 0x0003_03fc_ad06_f611n;
const T734 = 0x0003_03fc_ad07_0046n;
const T735 = 0x0003_03fc_ad07_35f0n;
const T736 = 0x0003_03fc_ad07_3a68n;
/** With a replication origin set up, the commit time is the origin's: 2024-01-01T10:00:00Z. */
const ORIGIN_TIME = 757_418_400_000_000n;

const MOOD_TYPE: PlainMessage = { tag: 'type', typeOid: MOOD, schema: 'public', name: 'mood' };

/** With REPLICA IDENTITY FULL, every column is flagged as part of the key. */
const ITEMS_RELATION: PlainMessage = {
  tag: 'relation',
  relationId: ITEMS,
  schema: 'public',
  name: 'items',
  replicaIdentity: 'f',
  columns: [
    { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
    { isKey: true, name: 'name', typeOid: 25, typeMod: -1 },
    { isKey: true, name: 'feeling', typeOid: MOOD, typeMod: -1 },
  ],
};

/** Text-format stream: [LSN column of the peek row, message bytes, expected message]. */
const TEXT_STREAM: [string, string, PlainMessage][] = [
  [
    '0/15485A8',
    '4200000000015486b0000303fcad06de0b000002da',
    { tag: 'begin', finalLsn: 0x15486b0n, commitTime: T730, xid: 730 },
  ],
  [
    '0/15485A8',
    '52000040077075626c6963007573657273006400040169640000000017ffffffff00656d61696c0000000019ffffffff0062616c616e636500000006a4000c0006006e6f74650000000019ffffffff',
    {
      tag: 'relation',
      relationId: USERS,
      schema: 'public',
      name: 'users',
      replicaIdentity: 'd',
      columns: [
        { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
        { isKey: false, name: 'email', typeOid: 25, typeMod: -1 },
        { isKey: false, name: 'balance', typeOid: 1700, typeMod: 786_438 },
        { isKey: false, name: 'note', typeOid: 25, typeMod: -1 },
      ],
    },
  ],
  [
    '0/15485A8',
    '49000040074e0004740000000131740000000e7a6fc3ab40e4be8be381882e6a70740000000531322e35307400002710' +
      '78'.repeat(10_000),
    { tag: 'insert', relationId: USERS, newTuple: ['1', 'zoë@例え.jp', '12.50', 'x'.repeat(10_000)] },
  ],
  [
    '0/15486E0',
    '430000000000015486b000000000015486e0000303fcad06de0b',
    { tag: 'commit', flags: 0, commitLsn: 0x15486b0n, endLsn: 0x15486e0n, commitTime: T730 },
  ],
  [
    '0/1548718',
    '420000000001548788000303fcad06e625000002db',
    { tag: 'begin', finalLsn: 0x1548788n, commitTime: T731, xid: 731 },
  ],
  [
    '0/1548718',
    '55000040074e0004740000000131740000000d62406578616d706c652e6f7267740000000531322e353075',
    {
      tag: 'update',
      relationId: USERS,
      oldKind: null,
      oldTuple: null,
      newTuple: ['1', 'b@example.org', '12.50', UNCHANGED_TOAST],
    },
  ],
  [
    '0/15487B8',
    '4300000000000154878800000000015487b8000303fcad06e625',
    { tag: 'commit', flags: 0, commitLsn: 0x1548788n, endLsn: 0x15487b8n, commitTime: T731 },
  ],
  [
    '0/15487F0',
    '4200000000015488a8000303fcad06ed87000002dc',
    { tag: 'begin', finalLsn: 0x15488a8n, commitTime: T732, xid: 732 },
  ],
  [
    '0/15487F0',
    '55000040074b00047400000001316e6e6e4e0004740000000132740000000d62406578616d706c652e6f7267740000000531322e353075',
    {
      tag: 'update',
      relationId: USERS,
      oldKind: 'key',
      oldTuple: ['1', null, null, null],
      newTuple: ['2', 'b@example.org', '12.50', UNCHANGED_TOAST],
    },
  ],
  [
    '0/15488D8',
    '430000000000015488a800000000015488d8000303fcad06ed87',
    { tag: 'commit', flags: 0, commitLsn: 0x15488a8n, endLsn: 0x15488d8n, commitTime: T732 },
  ],
  [
    '0/15488D8',
    '420000000001548a20000303fcad06f611000002dd',
    { tag: 'begin', finalLsn: 0x1548a20n, commitTime: T733, xid: 733 },
  ],
  ['0/15488D8', '59000040017075626c6963006d6f6f6400', MOOD_TYPE],
  [
    '0/15488D8',
    '520000400e7075626c6963006974656d73006600030169640000000017ffffffff016e616d650000000019ffffffff016665656c696e670000004001ffffffff',
    ITEMS_RELATION,
  ],
  [
    '0/15488D8',
    '490000400e4e000374000000013774000000046c616d7074000000056861707079',
    { tag: 'insert', relationId: ITEMS, newTuple: ['7', 'lamp', 'happy'] },
  ],
  [
    '0/1548920',
    '550000400e4f000374000000013774000000046c616d70740000000568617070794e000374000000013774000000096465736b206c616d7074000000056861707079',
    {
      tag: 'update',
      relationId: ITEMS,
      oldKind: 'full',
      oldTuple: ['7', 'lamp', 'happy'],
      newTuple: ['7', 'desk lamp', 'happy'],
    },
  ],
  [
    '0/1548990',
    '440000400e4f000374000000013774000000096465736b206c616d7074000000056861707079',
    { tag: 'delete', relationId: ITEMS, oldKind: 'full', oldTuple: ['7', 'desk lamp', 'happy'] },
  ],
  [
    '0/1548A20',
    '4d010000000001548a206175646974000000000300ff0a',
    {
      tag: 'message',
      transactional: true,
      lsn: 0x1548a20n,
      prefix: 'audit',
      content: new Uint8Array([0x00, 0xff, 0x0a]),
    },
  ],
  [
    '0/1548A50',
    '43000000000001548a200000000001548a50000303fcad06f611',
    { tag: 'commit', flags: 0, commitLsn: 0x1548a20n, endLsn: 0x1548a50n, commitTime: T733 },
  ],
  [
    '0/1548A88',
    '4d000000000001548a8868620000000000',
    { tag: 'message', transactional: false, lsn: 0x1548a88n, prefix: 'hb', content: new Uint8Array(0) },
  ],
  [
    '0/1548A88',
    '420000000001548c18000303fcad070046000002de',
    { tag: 'begin', finalLsn: 0x1548c18n, commitTime: T734, xid: 734 },
  ],
  [
    '0/1548A88',
    '44000040074b00047400000001326e6e6e',
    { tag: 'delete', relationId: USERS, oldKind: 'key', oldTuple: ['2', null, null, null] },
  ],
  [
    '0/1548C48',
    '43000000000001548c180000000001548c48000303fcad070046',
    { tag: 'commit', flags: 0, commitLsn: 0x1548c18n, endLsn: 0x1548c48n, commitTime: T734 },
  ],
  [
    '0/1549478',
    '4200000000015494a8000303fcad0735f0000002df',
    { tag: 'begin', finalLsn: 0x15494a8n, commitTime: T735, xid: 735 },
  ],
  ['0/1549478', '59000040017075626c6963006d6f6f6400', MOOD_TYPE],
  [
    '0/1549478',
    '520000400e7075626c6963006974656d73006600030169640000000017ffffffff016e616d650000000019ffffffff016665656c696e670000004001ffffffff',
    ITEMS_RELATION,
  ],
  [
    '0/1549478',
    '5400000001030000400e',
    { tag: 'truncate', cascade: true, restartIdentity: true, relationIds: [ITEMS] },
  ],
  [
    '0/15495B8',
    '430000000000015494a800000000015495b8000303fcad0735f0',
    { tag: 'commit', flags: 0, commitLsn: 0x15494a8n, endLsn: 0x15495b8n, commitTime: T735 },
  ],
  [
    '0/15495B8',
    '4200000000015495f8000303fcad073a68000002e0',
    { tag: 'begin', finalLsn: 0x15495f8n, commitTime: T736, xid: 736 },
  ],
  ['0/15495B8', '59000040017075626c6963006d6f6f6400', MOOD_TYPE],
  [
    '0/15495B8',
    '520000400e7075626c6963006974656d73006600030169640000000017ffffffff016e616d650000000019ffffffff016665656c696e670000004001ffffffff',
    ITEMS_RELATION,
  ],
  [
    '0/15495B8',
    '490000400e4e00037400000001386e6e',
    { tag: 'insert', relationId: ITEMS, newTuple: ['8', null, null] },
  ],
  [
    '0/1549628',
    '430000000000015495f80000000001549628000303fcad073a68',
    { tag: 'commit', flags: 0, commitLsn: 0x15495f8n, endLsn: 0x1549628n, commitTime: T736 },
  ],
  [
    '0/1549888',
    '4200000000015498d80002b0de36ada800000002e2',
    { tag: 'begin', finalLsn: 0x15498d8n, commitTime: ORIGIN_TIME, xid: 738 },
  ],
  [
    '0/1549888',
    '4f0000000100000a006e6f64655f6100',
    { tag: 'origin', originLsn: 0x1_0000_0a00n, name: 'node_a' },
  ],
  [
    '0/1549888',
    '490000400e4e0003740000000139740000000b66726f6d206f726967696e74000000026f6b',
    { tag: 'insert', relationId: ITEMS, newTuple: ['9', 'from origin', 'ok'] },
  ],
  [
    '0/1549920',
    '430000000000015498d800000000015499200002b0de36ada800',
    { tag: 'commit', flags: 0, commitLsn: 0x15498d8n, endLsn: 0x1549920n, commitTime: ORIGIN_TIME },
  ],
];

/** The same changes with the `binary` option: [message bytes, expected message]. */
const BINARY_CHANGES: [string, PlainMessage][] = [
  [
    // int4 1, text, numeric 12.50 in binary (ndigits 2, weight 0, sign +, dscale 2, digits 12 5000), 'u'.
    '55000040074e0004620000000400000001620000000d62406578616d706c652e6f7267620000000c0002000000000002000c138875',
    {
      tag: 'update',
      relationId: USERS,
      oldKind: null,
      oldTuple: null,
      newTuple: [
        Uint8Array.of(0, 0, 0, 1),
        new TextEncoder().encode('b@example.org'),
        Uint8Array.of(0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0c, 0x13, 0x88),
        UNCHANGED_TOAST,
      ],
    },
  ],
  [
    '550000400e4f000362000000040000000762000000046c616d70620000000568617070794e000362000000040000000762000000096465736b206c616d7062000000056861707079',
    {
      tag: 'update',
      relationId: ITEMS,
      oldKind: 'full',
      oldTuple: [
        Uint8Array.of(0, 0, 0, 7),
        new TextEncoder().encode('lamp'),
        new TextEncoder().encode('happy'),
      ],
      newTuple: [
        Uint8Array.of(0, 0, 0, 7),
        new TextEncoder().encode('desk lamp'),
        new TextEncoder().encode('happy'),
      ],
    },
  ],
];

describe('decodePgoutput: golden messages from PostgreSQL 15', () => {
  test('every captured text-format message decodes to the expected value', () => {
    for (const [lsn, hex, expected] of TEXT_STREAM) {
      assert.deepEqual(
        plain(decodePgoutput(hexBytes(hex))),
        expected,
        `message at ${lsn}: ${hex.slice(0, 40)}`,
      );
    }
  });

  test('Begin and Commit agree with each other and with the LSNs the server reported', () => {
    // The peek function reports each Commit row at the transaction's end LSN, independently of
    // the message bytes, so this checks the LSN fields against a second source.
    let begin: PlainMessage | undefined;
    let commits = 0;
    for (const [lsn, hex] of TEXT_STREAM) {
      const msg = decodePgoutput(hexBytes(hex));
      if (msg.tag === 'begin') begin = msg;
      if (msg.tag !== 'commit') continue;
      assert.ok(begin?.tag === 'begin', `commit at ${lsn} without a begin`);
      assert.equal(msg.commitLsn, begin.finalLsn);
      assert.equal(msg.commitTime, begin.commitTime);
      assert.equal(msg.endLsn, parseLsn(lsn));
      commits++;
    }
    assert.equal(commits, 8);
  });

  test('binary-format values decode to their raw bytes', () => {
    for (const [hex, expected] of BINARY_CHANGES)
      assert.deepEqual(plain(decodePgoutput(hexBytes(hex))), expected);
  });

  test('every proper prefix of every captured message throws DecodeError', () => {
    for (const [lsn, hex] of TEXT_STREAM) {
      const full = hexBytes(hex);
      for (let cut = 1; cut < full.length; cut++) {
        assert.throws(
          () => decodePgoutput(Buffer.from(full.subarray(0, cut))),
          (err: unknown) => err instanceof DecodeError && err.offset <= cut,
          `message at ${lsn} cut at ${cut}`,
        );
      }
    }
  });
});

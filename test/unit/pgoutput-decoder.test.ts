/**
 * Unit tests for the pgoutput protocol-1 decoder: every message type from hand-laid bytes,
 * then robustness against truncated, extended and corrupt input.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError } from '../../src/errors.js';
import { decodePgoutput } from '../../src/source/pgoutput/decoder.js';
import { UNCHANGED_TOAST } from '../../src/source/pgoutput/messages.js';
import { plain, type PlainMessage } from '../builders/tuples.js';
import { ByteWriter, encodePgoutput, hexBytes, writeTupleData } from '../builders/pgoutput-writer.js';

/** 2024-01-01T10:00:00.123456Z in µs since 2000-01-01 UTC. */
const COMMIT_TIME = 757_418_400_123_456n;

/** Asserts that `fn` throws a DecodeError with the given tag and offset, and returns it. */
function assertDecodeError(fn: () => unknown, tag: string, offset: number, message?: RegExp): DecodeError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DecodeError, `expected a DecodeError, got ${String(caught)}`);
  assert.equal(caught.tag, tag);
  assert.equal(caught.offset, offset);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe('decodePgoutput: transaction messages', () => {
  test('Begin', () => {
    const data = hexBytes(
      '42', //                 Byte1('B')
      '00000000 016b3778', //  Int64 final LSN 0/16B3778
      '0002b0de 36af8a40', //  Int64 commit time 2024-01-01T10:00:00.123456Z
      '000002e5', //           Int32 xid 741
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'begin',
      finalLsn: 0x16b3778n,
      commitTime: COMMIT_TIME,
      xid: 741,
    });
  });

  test('Begin with an xid above 2^31 reads it unsigned', () => {
    const data = hexBytes('42', '00000000 016b3778', '0002b0de 36af8a40', 'fffffffe');
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'begin');
    assert.equal(msg.xid, 4_294_967_294);
  });

  test('Commit', () => {
    const data = hexBytes(
      '43', //                 Byte1('C')
      '00', //                 Int8 flags (unused)
      '00000000 016b3778', //  Int64 commit LSN 0/16B3778
      '00000000 016b37a8', //  Int64 end LSN 0/16B37A8
      '0002b0de 36af8a40', //  Int64 commit time
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'commit',
      flags: 0,
      commitLsn: 0x16b3778n,
      endLsn: 0x16b37a8n,
      commitTime: COMMIT_TIME,
    });
  });

  test('Commit keeps 64-bit LSNs above 2^53 exact', () => {
    const data = hexBytes(
      '43', //                 Byte1('C')
      '00', //                 Int8 flags
      '00200000 00000001', //  Int64 commit LSN 2^53 + 1 (not representable as a double)
      'ffffffff fffffff0', //  Int64 end LSN FFFFFFFF/FFFFFFF0
      'ffffffff ffffffff', //  Int64 commit time -1 µs (signed)
    );
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'commit');
    assert.equal(msg.commitLsn, 2n ** 53n + 1n);
    assert.equal(msg.endLsn, 0xffff_ffff_ffff_fff0n);
    assert.equal(msg.commitTime, -1n);
  });

  test('Origin', () => {
    const data = hexBytes(
      '4f', //                   Byte1('O')
      '00000001 00000a00', //    Int64 origin LSN 1/A00
      '6e6f64655f61 00', //      String "node_a"
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'origin',
      originLsn: 0x1_0000_0a00n,
      name: 'node_a',
    });
  });
});

describe('decodePgoutput: Relation and Type', () => {
  test('Relation with key and non-key columns', () => {
    const data = new ByteWriter()
      .addByte('R') //                     Byte1('R')
      .addInt32(16_385) //                 Int32 relation OID
      .addCString('public') //             String namespace
      .addCString('users') //              String relation name
      .addByte('d') //                     Int8 replica identity: default
      .addInt16(3) //                      Int16 column count
      .addByte(1) //                       column 1: Int8 flags (key)
      .addCString('id') //                           String name
      .addInt32(23) //                               Int32 type OID (int4)
      .addInt32(-1) //                               Int32 typmod (none)
      .addByte(0) //                       column 2: Int8 flags (not key)
      .addCString('email')
      .addInt32(25) //                               text
      .addInt32(-1)
      .addByte(0) //                       column 3: Int8 flags (not key)
      .addCString('balance')
      .addInt32(1700) //                             numeric
      .addInt32(786_438) //                          numeric(12,2): ((12 << 16) | 2) + 4
      .join();
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'relation',
      relationId: 16_385,
      schema: 'public',
      name: 'users',
      replicaIdentity: 'd',
      columns: [
        { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
        { isKey: false, name: 'email', typeOid: 25, typeMod: -1 },
        { isKey: false, name: 'balance', typeOid: 1700, typeMod: 786_438 },
      ],
    });
  });

  test('Relation with an empty namespace is in pg_catalog', () => {
    const data = hexBytes(
      '52', //                   Byte1('R')
      '00000d5a', //             Int32 relation OID 3418
      '00', //                   String namespace "" (pg_catalog)
      '706700', //               String name "pg"
      '66', //                   Int8 replica identity 'f' (full)
      '0000', //                 Int16 column count 0
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'relation',
      relationId: 3418,
      schema: 'pg_catalog',
      name: 'pg',
      replicaIdentity: 'f',
      columns: [],
    });
  });

  test('Relation column flags other than bit 1 do not mark a key', () => {
    const data = new ByteWriter()
      .addByte('R')
      .addInt32(1)
      .addCString('s')
      .addCString('t')
      .addByte('i') //    replica identity: index
      .addInt16(2)
      .addByte(2) //      flags 0b10: not a key
      .addCString('a')
      .addInt32(23)
      .addInt32(-1)
      .addByte(3) //      flags 0b11: a key
      .addCString('b')
      .addInt32(23)
      .addInt32(-1)
      .join();
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'relation');
    assert.deepEqual(
      msg.columns.map((c) => c.isKey),
      [false, true],
    );
  });

  test('Relation with an OID above 2^31 and UTF-8 names', () => {
    const data = new ByteWriter()
      .addByte('R')
      .addInt32(0xffff_fff0) //      Int32 relation OID, unsigned
      .addCString('über') //         String namespace, 2-byte UTF-8
      .addCString('東京') //          String name, 3-byte UTF-8
      .addByte('n')
      .addInt16(1)
      .addByte(0)
      .addCString('🐘') //           String column name, 4-byte UTF-8
      .addInt32(0xffff_fffe) //      Int32 type OID, unsigned
      .addInt32(-1)
      .join();
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'relation');
    assert.equal(msg.relationId, 0xffff_fff0);
    assert.equal(msg.schema, 'über');
    assert.equal(msg.name, '東京');
    assert.deepEqual(msg.columns, [{ isKey: false, name: '🐘', typeOid: 0xffff_fffe, typeMod: -1 }]);
  });

  test('Relation with an unknown replica identity throws', () => {
    const data = new ByteWriter().addByte('R').addInt32(1).addCString('s').addCString('t');
    // Offset 1 + 4 + 2 + 2 = 9 is the replica identity byte.
    const buf = data.addByte('x').addInt16(0).join();
    assertDecodeError(() => decodePgoutput(buf), 'R', 9, /replica identity/);
  });

  test('Type', () => {
    const data = hexBytes(
      '59', //                   Byte1('Y')
      '00004001', //             Int32 type OID 16385
      '7075626c6963 00', //      String namespace "public"
      '6d6f6f64 00', //          String name "mood"
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'type',
      typeOid: 16_385,
      schema: 'public',
      name: 'mood',
    });
  });

  test('Type with an empty namespace is in pg_catalog', () => {
    const data = new ByteWriter().addByte('Y').addInt32(16_390).addCString('').addCString('hstore').join();
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'type',
      typeOid: 16_390,
      schema: 'pg_catalog',
      name: 'hstore',
    });
  });
});

describe('decodePgoutput: row changes', () => {
  test('Insert with text, null and binary columns', () => {
    const data = hexBytes(
      '49', //                   Byte1('I')
      '00004001', //             Int32 relation OID 16385
      '4e', //                   Byte1('N')
      '0004', //                 Int16 column count 4
      '74 00000002 3432', //     't' Int32 2, "42"
      '6e', //                   'n' null
      '74 00000000', //          't' Int32 0, "" (empty, not null)
      '62 00000003 00ff10', //   'b' Int32 3, bytes 00 ff 10
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'insert',
      relationId: 16_385,
      newTuple: ['42', null, '', new Uint8Array([0x00, 0xff, 0x10])],
    });
  });

  test('Insert with multi-byte UTF-8 text', () => {
    const data = hexBytes(
      '49', //                                   Byte1('I')
      '00004001', //                             Int32 relation OID
      '4e', //                                   Byte1('N')
      '0001', //                                 Int16 column count 1
      '74 00000010', //                          't' Int32 16 (bytes, not characters)
      '5a6fc3ab20e69db1e4baac20f09f9098', //     "Zoë 東京 🐘"
    );
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'insert');
    assert.deepEqual(msg.newTuple.values(), ['Zoë 東京 🐘']);
  });

  test('a text value holding a genuine U+FFFD is not mistaken for invalid UTF-8', () => {
    const data = hexBytes('49', '00000001', '4e', '0001', '74 00000005', '61 efbfbd 62'); // "a\uFFFDb"
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'insert');
    assert.deepEqual(msg.newTuple.values(), ['a\uFFFDb']);
  });

  test('a tuple reads its values from the message; values and detached tuples are copies', () => {
    const data = hexBytes('49', '00000001', '4e', '0002', '62 00000002 0102', '74 00000003 c3a962');
    const msg = decodePgoutput(data);
    assert.equal(msg.tag, 'insert');
    const value = msg.newTuple.value(0);
    assert.ok(value instanceof Uint8Array && !Buffer.isBuffer(value), 'a plain Uint8Array');
    const kept = msg.newTuple.detach();
    assert.ok(kept.bytes.length < data.length, 'a detached tuple holds only its values');
    data.fill(0);
    assert.deepEqual(value, new Uint8Array([1, 2]));
    assert.deepEqual(kept.values(), [new Uint8Array([1, 2]), 'éb']);
    assert.deepEqual(msg.newTuple.values(), [new Uint8Array([0, 0]), '\0\0\0'], 'the message itself changed');
  });

  test('Update without an old tuple', () => {
    const data = hexBytes(
      '55', //                   Byte1('U')
      '00004001', //             Int32 relation OID
      '4e', //                   Byte1('N'): no old tuple
      '0002', //                 Int16 column count
      '74 00000001 37', //       't' "7"
      '75', //                   'u' unchanged TOAST
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'update',
      relationId: 16_385,
      oldKind: null,
      oldTuple: null,
      newTuple: ['7', UNCHANGED_TOAST],
    });
  });

  test('Update with the old key (K)', () => {
    const data = hexBytes(
      '55', //                   Byte1('U')
      '00004001', //             Int32 relation OID
      '4b', //                   Byte1('K'): old replica identity key
      '0002', //                 Int16 column count
      '74 00000001 37', //       't' "7" (old id)
      '6e', //                   'n': not part of the key
      '4e', //                   Byte1('N')
      '0002', //                 Int16 column count
      '74 00000001 38', //       't' "8" (new id)
      '74 00000003 626f62', //   't' "bob"
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'update',
      relationId: 16_385,
      oldKind: 'key',
      oldTuple: ['7', null],
      newTuple: ['8', 'bob'],
    });
  });

  test('Update with the full old row (O) and every column kind', () => {
    const data = hexBytes(
      '55', //                   Byte1('U')
      '00004001', //             Int32 relation OID
      '4f', //                   Byte1('O'): full old row (REPLICA IDENTITY FULL)
      '0004', //                 Int16 column count
      '74 00000001 37', //       't' "7"
      '6e', //                   'n'
      '75', //                   'u'
      '62 00000001 2a', //       'b' 2a
      '4e', //                   Byte1('N')
      '0004', //                 Int16 column count
      '74 00000001 37', //       't' "7"
      '74 00000002 6869', //     't' "hi"
      '75', //                   'u'
      '6e', //                   'n'
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'update',
      relationId: 16_385,
      oldKind: 'full',
      oldTuple: ['7', null, UNCHANGED_TOAST, new Uint8Array([0x2a])],
      newTuple: ['7', 'hi', UNCHANGED_TOAST, null],
    });
  });

  test('Delete with the old key (K)', () => {
    const data = hexBytes(
      '44', //                   Byte1('D')
      '00004001', //             Int32 relation OID
      '4b', //                   Byte1('K')
      '0002', //                 Int16 column count
      '74 00000001 37', //       't' "7"
      '6e', //                   'n'
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'delete',
      relationId: 16_385,
      oldKind: 'key',
      oldTuple: ['7', null],
    });
  });

  test('Delete with the full old row (O)', () => {
    const data = hexBytes(
      '44', //                   Byte1('D')
      '00004001', //             Int32 relation OID
      '4f', //                   Byte1('O')
      '0002', //                 Int16 column count
      '74 00000001 37', //       't' "7"
      '74 00000003 626f62', //   't' "bob"
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'delete',
      relationId: 16_385,
      oldKind: 'full',
      oldTuple: ['7', 'bob'],
    });
  });

  test('a tuple with zero columns', () => {
    const data = hexBytes('49', '00004001', '4e', '0000');
    assert.deepEqual(plain(decodePgoutput(data)), { tag: 'insert', relationId: 16_385, newTuple: [] });
  });
});

describe('decodePgoutput: Truncate', () => {
  const cases = [
    { options: 0, cascade: false, restartIdentity: false },
    { options: 1, cascade: true, restartIdentity: false },
    { options: 2, cascade: false, restartIdentity: true },
    { options: 3, cascade: true, restartIdentity: true },
  ];
  for (const c of cases) {
    test(`option bits ${c.options}`, () => {
      const data = hexBytes(
        '54', //                   Byte1('T')
        '00000002', //             Int32 relation count 2
        c.options.toString(16).padStart(2, '0'), // Int8 option bits
        '00004001', //             Int32 relation OID 16385
        'fffffff0', //             Int32 relation OID 4294967280 (unsigned)
      );
      assert.deepEqual(plain(decodePgoutput(data)), {
        tag: 'truncate',
        cascade: c.cascade,
        restartIdentity: c.restartIdentity,
        relationIds: [16_385, 0xffff_fff0],
      });
    });
  }

  test('an OID count larger than the message throws without reading on', () => {
    const data = hexBytes('54', '7fffffff', '00', '00004001');
    assertDecodeError(() => decodePgoutput(data), 'T', 6, /relation ids/);
  });

  test('a negative relation count throws', () => {
    const data = hexBytes('54', 'ffffffff', '00');
    assertDecodeError(() => decodePgoutput(data), 'T', 1, /negative/);
  });
});

describe('decodePgoutput: logical decoding Message', () => {
  test('transactional, with binary content', () => {
    const data = hexBytes(
      '4d', //                   Byte1('M')
      '01', //                   Int8 flags: transactional
      '00000000 016b3748', //    Int64 LSN 0/16B3748
      '617564697400', //         String prefix "audit"
      '00000005', //             Int32 content length 5
      '00 ff 0a 00 7f', //       content, NULs included
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'message',
      transactional: true,
      lsn: 0x16b3748n,
      prefix: 'audit',
      content: new Uint8Array([0x00, 0xff, 0x0a, 0x00, 0x7f]),
    });
  });

  test('non-transactional, with empty content and an LSN above 2^53', () => {
    const data = hexBytes(
      '4d', //                   Byte1('M')
      '00', //                   Int8 flags: not transactional
      'ffffffff fffffff0', //    Int64 LSN
      '6800', //                 String prefix "h"
      '00000000', //             Int32 content length 0
    );
    assert.deepEqual(plain(decodePgoutput(data)), {
      tag: 'message',
      transactional: false,
      lsn: 0xffff_ffff_ffff_fff0n,
      prefix: 'h',
      content: new Uint8Array(0),
    });
  });

  test('content is a copy', () => {
    const data = hexBytes('4d', '01', '0000000000000001', '7000', '00000002', 'abcd');
    const msg = decodePgoutput(data);
    data.fill(0);
    assert.equal(msg.tag, 'message');
    assert.deepEqual(msg.content, new Uint8Array([0xab, 0xcd]));
  });
});

/** One valid message of every kind and shape, used by the robustness tests. */
const VALID: PlainMessage[] = [
  { tag: 'begin', finalLsn: 0x16b3778n, commitTime: COMMIT_TIME, xid: 741 },
  { tag: 'commit', flags: 0, commitLsn: 0x16b3778n, endLsn: 0x16b37a8n, commitTime: COMMIT_TIME },
  { tag: 'origin', originLsn: 0x1_0000_0a00n, name: 'node_a' },
  {
    tag: 'relation',
    relationId: 16_385,
    schema: 'public',
    name: 'users',
    replicaIdentity: 'd',
    columns: [
      { isKey: true, name: 'id', typeOid: 23, typeMod: -1 },
      { isKey: false, name: 'ñame', typeOid: 25, typeMod: -1 },
    ],
  },
  { tag: 'type', typeOid: 16_385, schema: 'public', name: 'mood' },
  { tag: 'insert', relationId: 16_385, newTuple: ['1', null, 'Zoë 🐘', new Uint8Array([0, 1, 2])] },
  { tag: 'update', relationId: 16_385, oldKind: null, oldTuple: null, newTuple: ['1', UNCHANGED_TOAST] },
  { tag: 'update', relationId: 16_385, oldKind: 'key', oldTuple: ['1', null], newTuple: ['2', 'x'] },
  { tag: 'update', relationId: 16_385, oldKind: 'full', oldTuple: ['1', 'a'], newTuple: ['1', 'b'] },
  { tag: 'delete', relationId: 16_385, oldKind: 'key', oldTuple: ['1', null] },
  { tag: 'delete', relationId: 16_385, oldKind: 'full', oldTuple: ['1', 'a'] },
  { tag: 'truncate', cascade: true, restartIdentity: false, relationIds: [16_385, 16_390] },
  { tag: 'message', transactional: true, lsn: 0x16b3748n, prefix: 'p', content: new Uint8Array([0, 9]) },
];

/** The wire tag character of a message, e.g. `U` for an update. */
function wireTag(buf: Buffer): string {
  return String.fromCharCode(buf[0]!);
}

describe('decodePgoutput: robustness', () => {
  test('the builder and the decoder agree on every valid message', () => {
    for (const msg of VALID) assert.deepEqual(plain(decodePgoutput(encodePgoutput(msg))), msg);
  });

  test('an empty buffer throws', () => {
    assertDecodeError(() => decodePgoutput(Buffer.alloc(0)), '', 0, /empty/);
  });

  for (const msg of VALID) {
    const full = encodePgoutput(msg);
    const tag = wireTag(full);
    const shape =
      msg.tag === 'update' || msg.tag === 'delete' ? `${msg.tag} with old ${msg.oldKind ?? 'none'}` : msg.tag;

    test(`every proper prefix of ${shape} (${full.length} bytes) throws DecodeError`, () => {
      for (let cut = 1; cut < full.length; cut++) {
        // A copy, so that no byte past the cut is reachable through the underlying memory.
        const prefix = Buffer.from(full.subarray(0, cut));
        let caught: unknown;
        try {
          decodePgoutput(prefix);
        } catch (err) {
          caught = err;
        }
        assert.ok(
          caught instanceof DecodeError,
          `cut at ${cut}: expected DecodeError, got ${String(caught)}`,
        );
        assert.equal(caught.tag, tag, `cut at ${cut}`);
        // The failing read starts after the tag and no later than the end of the prefix.
        assert.ok(caught.offset >= 1 && caught.offset <= cut, `cut at ${cut}: offset ${caught.offset}`);
        assert.match(caught.message, /truncated|NUL terminator/, `cut at ${cut}`);
      }
    });

    test(`${shape} followed by a trailing byte throws at the end of the message`, () => {
      const extended = Buffer.concat([full, Buffer.of(0)]);
      assertDecodeError(() => decodePgoutput(extended), tag, full.length, /1 trailing bytes/);
    });
  }

  test('unknown tags, protocol-2 stream and two-phase messages throw naming the tag', () => {
    // S/E/c/A: stream start/stop/commit/abort; b/P/K/r/p: two-phase; others are not pgoutput.
    for (const tag of ['S', 'E', 'c', 'A', 'b', 'P', 'K', 'r', 'p', 'X', 'w', '\u0000', '\u00ff']) {
      const data = Buffer.concat([Buffer.of(tag.charCodeAt(0)), Buffer.alloc(24)]);
      assertDecodeError(() => decodePgoutput(data), tag, 0, /unknown or unsupported/);
    }
  });

  test('a bad tuple kind byte throws at that byte', () => {
    const data = hexBytes('49', '00004001', '4e', '0002', '6e', '78'); // second kind is 'x'
    assertDecodeError(() => decodePgoutput(data), 'I', 9, /tuple column kind 0x78/);
  });

  test('an Insert without the N marker throws', () => {
    const data = hexBytes('49', '00004001', '4b', '0000'); // 'K' where 'N' belongs
    assertDecodeError(() => decodePgoutput(data), 'I', 5, /expected 'N'/);
  });

  test('an Update with a bad old-tuple marker throws', () => {
    const data = hexBytes('55', '00004001', '44', '0000'); // 'D'
    assertDecodeError(() => decodePgoutput(data), 'U', 5, /expected 'K', 'O' or 'N'/);
  });

  test('an Update whose old tuple is not followed by N throws', () => {
    const data = hexBytes('55', '00004001', '4b', '0000', '4b', '0000'); // 'K' twice
    assertDecodeError(() => decodePgoutput(data), 'U', 8, /expected 'N'/);
  });

  test('a Delete without an old tuple throws', () => {
    const data = hexBytes('44', '00004001', '4e', '0000'); // 'N' is not valid in a Delete
    assertDecodeError(() => decodePgoutput(data), 'D', 5, /expected 'K' or 'O'/);
  });

  test('a negative text length throws', () => {
    const data = hexBytes('49', '00004001', '4e', '0001', '74 ffffffff');
    // The offset is where the value bytes would start, just after the length field.
    assertDecodeError(() => decodePgoutput(data), 'I', 13, /negative length -1/);
  });

  test('a text length beyond the message throws', () => {
    const data = hexBytes('49', '00004001', '4e', '0001', '74 00000004', '616263'); // 3 of 4 bytes
    assertDecodeError(() => decodePgoutput(data), 'I', 13, /truncated/);
  });

  test('a negative tuple column count throws', () => {
    const data = hexBytes('49', '00004001', '4e', 'ffff');
    assertDecodeError(() => decodePgoutput(data), 'I', 6, /negative column count/);
  });

  test('invalid UTF-8 in a text value throws instead of becoming U+FFFD', () => {
    const data = hexBytes('49', '00004001', '4e', '0001', '74 00000002', 'c328'); // bad continuation
    assertDecodeError(() => decodePgoutput(data), 'I', 13, /invalid UTF-8/);
  });

  test('invalid UTF-8 in a name throws', () => {
    const data = hexBytes('59', '00004001', 'ff00', '6d00'); // namespace is the single byte ff
    assertDecodeError(() => decodePgoutput(data), 'Y', 5, /invalid UTF-8/);
  });

  test('a negative Message content length throws', () => {
    const data = hexBytes('4d', '00', '0000000000000001', '7000', 'fffffffe');
    assertDecodeError(() => decodePgoutput(data), 'M', 16, /negative length -2/);
  });

  test('corrupted valid messages either decode or throw DecodeError, nothing else', () => {
    // A fixed-seed linear congruential generator keeps the run reproducible.
    let seed = 0x2545f491;
    const next = (): number => {
      seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
      return seed;
    };
    let decodeErrors = 0;
    for (const msg of VALID) {
      const full = encodePgoutput(msg);
      for (let round = 0; round < 300; round++) {
        const buf = Buffer.from(full);
        const flips = 1 + (next() % 3);
        for (let i = 0; i < flips; i++) buf[1 + (next() % (buf.length - 1))] = next() & 0xff;
        try {
          decodePgoutput(buf);
        } catch (err) {
          assert.ok(err instanceof DecodeError, `unexpected ${String(err)} for ${buf.toString('hex')}`);
          decodeErrors++;
        }
      }
    }
    // The corruption must actually reach the error paths for this test to mean anything.
    assert.ok(decodeErrors > 100, `only ${decodeErrors} corrupted messages were rejected`);
  });
});

describe('ByteWriter', () => {
  test('writes big-endian integers, signed and unsigned, and NUL-terminated strings', () => {
    const w = new ByteWriter()
      .addByte('A')
      .addByte(0xff)
      .addInt16(-2)
      .addInt16(0xfffe)
      .addInt32(-1)
      .addInt32(0xffff_ffff)
      .addInt64(-2n)
      .addInt64(0xffff_ffff_ffff_fffen)
      .addCString('é')
      .addBytes([1, 2]);
    assert.equal(
      w.join().toString('hex'),
      [
        '41',
        'ff',
        'fffe',
        'fffe',
        'ffffffff',
        'ffffffff',
        'fffffffffffffffe',
        'fffffffffffffffe',
        'c3a900',
        '0102',
      ].join(''),
    );
  });

  test('writeTupleData lays out every kind', () => {
    const w = writeTupleData(new ByteWriter(), [null, UNCHANGED_TOAST, 'é', new Uint8Array([7])]);
    assert.equal(w.join().toString('hex'), '0004' + '6e' + '75' + '7400000002c3a9' + '620000000107');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeEventId, eventId, systemNamespace, transactionIdPrefix } from '../../src/event/event-id.js';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('event ids', () => {
  test('are version-8 UUIDs that encode namespace, commit LSN and position', () => {
    const ns = systemNamespace('7312345678901234567');
    const cases: [bigint, number][] = [
      [0n, 0],
      [0x16b3748n, 1],
      [0xffffffff_ffffffffn, 0xffffffff],
      [0x1_0000_0000n, 42],
      [0x12345678_9abcdef0n, 123456],
    ];
    for (const [lsn, position] of cases) {
      const id = eventId(transactionIdPrefix(ns, lsn), position);
      assert.match(id, UUID_V8);
      assert.deepEqual(decodeEventId(id), { namespace: ns, commitLsn: lsn, position });
      assert.equal(id.slice(-8), position.toString(16).padStart(8, '0'));
    }
  });

  test('are the same for the same change and differ otherwise', () => {
    const ns = systemNamespace('a');
    const a = eventId(transactionIdPrefix(ns, 100n), 3);
    assert.equal(eventId(transactionIdPrefix(ns, 100n), 3), a);
    assert.notEqual(eventId(transactionIdPrefix(ns, 100n), 4), a);
    assert.notEqual(eventId(transactionIdPrefix(ns, 101n), 3), a);
    assert.notEqual(eventId(transactionIdPrefix(systemNamespace('b'), 100n), 3), a);
  });

  test('namespace is 26 bits', () => {
    for (const s of ['1', '2', '7312345678901234567', '']) {
      const ns = systemNamespace(s);
      assert.ok(ns >= 0 && ns < 2 ** 26, `${ns}`);
    }
  });

  test('positions beyond 32 bits and foreign ids are refused', () => {
    assert.throws(() => eventId(transactionIdPrefix(0, 1n), 2 ** 32), RangeError);
    assert.throws(() => decodeEventId('123e4567-e89b-42d3-a456-426614174000'), RangeError);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InFlight } from '../../src/sink/in-flight.js';

describe('InFlight', () => {
  test('events acknowledged in any order are found once, with their subject and send time', () => {
    const f = new InFlight(1024);
    for (let seq = 1; seq <= 1000; seq++) f.add(seq, `s.${seq}`, seq * 10);
    assert.equal(f.size, 1000);
    assert.equal(f.subjectOf(500), 's.500');
    assert.equal(f.remove(500), 5000);
    assert.equal(f.remove(500), -1, 'a second PubAck for the same event is not counted');
    assert.equal(f.subjectOf(500), undefined);
    assert.equal(f.remove(1001), -1, 'never sent');
    for (let seq = 1000; seq >= 1; seq--) if (seq !== 500) assert.equal(f.remove(seq), seq * 10);
    assert.equal(f.size, 0);
    assert.equal(f.oldest(), undefined);
  });

  test('the oldest waiting event is reported, also after the ring wrapped many times', () => {
    const f = new InFlight(1024);
    let next = 1;
    for (let round = 0; round < 50; round++) {
      for (let k = 0; k < 700; k++, next++) f.add(next, `s.${next}`, next);
      // acknowledge all but the newest 100, out of order
      const waiting = next - 1;
      for (let seq = waiting - 100; seq >= 1; seq--) f.remove(seq);
      assert.equal(f.size, 100);
      assert.deepEqual(f.oldest(), { subject: `s.${waiting - 99}`, sentAt: waiting - 99 });
    }
  });

  test('an event still waiting when its slot comes round again is kept, and is the oldest', () => {
    const f = new InFlight(1024);
    f.add(1, 'slow', 1);
    for (let seq = 2; seq <= 5000; seq++) {
      f.add(seq, `s.${seq}`, seq);
      assert.equal(f.remove(seq), seq);
    }
    assert.equal(f.size, 1);
    assert.deepEqual(f.oldest(), { subject: 'slow', sentAt: 1 });
    assert.equal(f.subjectOf(1), 'slow');
    // a later event in the same slot does not answer for it
    f.add(1 + 1024 * 5, 'later', 2);
    assert.equal(f.remove(1), 1);
    assert.equal(f.subjectOf(1), undefined);
    assert.deepEqual(f.oldest(), { subject: 'later', sentAt: 2 });
    assert.equal(f.size, 1);
  });

  test('sequence numbers beyond 2^32 map to their own slots', () => {
    const f = new InFlight(1024);
    const base = 2 ** 40;
    for (let k = 1; k <= 2000; k++) f.add(base + k, `s.${k}`, k);
    assert.equal(f.size, 2000);
    for (let k = 1; k <= 2000; k++) assert.equal(f.remove(base + k), k);
    assert.equal(f.size, 0);
  });

  test('removeThrough: every event of one chain up to a sequence, oldest first, the other chains left', () => {
    const f = new InFlight(1024);
    for (let seq = 1; seq <= 3000; seq++) f.add(seq, `s.${seq}`, seq * 10, 0, seq % 3 === 0 ? 1 : 0);
    const done: [number, number][] = [];
    const n = f.removeThrough(2000, 0, (seq, sentAt) => done.push([seq, sentAt]));
    const expected = [...Array(2000).keys()].map((k) => k + 1).filter((seq) => seq % 3 !== 0);
    assert.equal(n, expected.length);
    assert.deepEqual(
      done.map(([seq]) => seq),
      expected,
    );
    assert.ok(done.every(([seq, sentAt]) => sentAt === seq * 10));
    assert.equal(f.subjectOf(2000), undefined);
    assert.equal(f.subjectOf(1998), 's.1998', 'chain 1 is left');
    assert.deepEqual(f.oldest(), { subject: 's.3', sentAt: 30 });
    assert.equal(
      f.removeThrough(2000, 0, () => assert.fail('removed twice')),
      0,
    );
    // the events that moved out of the ring are found too
    assert.equal(f.size, 3000 - expected.length);
    assert.equal(
      f.removeThrough(3000, 1, () => {}),
      1000,
    );
    assert.equal(
      f.removeThrough(3000, 0, () => {}),
      3000 - 2000 - (1000 - 666),
    );
    assert.equal(f.size, 0);
    assert.equal(f.oldest(), undefined);
  });

  test('removeThrough keeps up with the ring: a chain acknowledged every 100 events, 10^6 events', () => {
    const f = new InFlight(1024);
    let removed = 0;
    for (let seq = 1; seq <= 1_000_000; seq++) {
      f.add(seq, 's', seq);
      if (seq % 100 === 0) removed += f.removeThrough(seq, 0, () => {});
    }
    assert.equal(removed, 1_000_000);
    assert.equal(f.size, 0);
  });
});

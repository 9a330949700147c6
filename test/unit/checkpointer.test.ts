import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Checkpointer, type EventSeq } from '../../src/checkpoint/checkpointer.js';
import type { CommitEndLsn, CommitLsn, FlushLsn, ReceivedLsn } from '../../src/source/lsn.js';

// Positions and numbers as the parts that read them from the wire would type them.
const start = (lsn: bigint) => lsn as FlushLsn;
const end = (lsn: bigint) => lsn as CommitEndLsn;
const wal = (lsn: bigint) => lsn as ReceivedLsn;
const seq = (n: number) => n as EventSeq;

/**
 * Confusions the types refuse. tsc checks this when the tests are built: each `@ts-expect-error`
 * fails the build if the line under it compiles. Never called.
 */
function refusedByTheCompiler(c: Checkpointer, commitLsn: CommitLsn, received: ReceivedLsn): void {
  // @ts-expect-error a commit is confirmed at its end LSN, never at the commit record's LSN
  c.commit(commitLsn);
  // @ts-expect-error a received position is never a commit's end
  c.commit(received);
  // @ts-expect-error a plain number is not an event number
  c.acked(1);
  // @ts-expect-error the checkpointer's flush LSN is not a received position
  c.idle(c.flushLsn, false);
}
void refusedByTheCompiler;

describe('checkpointer', () => {
  test('confirms a commit only after all its events and all earlier ones are acknowledged', () => {
    const c = new Checkpointer(start(100n));
    const a1 = c.publish();
    const a2 = c.publish();
    c.commit(end(200n)); // tx A: events 1, 2
    const b1 = c.publish();
    c.commit(end(300n)); // tx B: event 3
    assert.equal(c.flushLsn, 100n);
    c.acked(b1); // B acknowledged before A: nothing may move
    assert.equal(c.flushLsn, 100n);
    c.acked(a2);
    assert.equal(c.flushLsn, 100n);
    c.acked(a1); // now 1, 2, 3 are all acknowledged
    assert.equal(c.flushLsn, 300n);
    assert.equal(c.inFlight, 0);
  });

  test('a commit whose events are still in flight holds later commits back', () => {
    const c = new Checkpointer(start(0n));
    const e1 = c.publish();
    c.commit(end(10n));
    c.commit(end(20n)); // fully filtered transaction: no events of its own
    assert.equal(c.flushLsn, 0n);
    c.acked(e1);
    assert.equal(c.flushLsn, 20n);
  });

  test('a transaction with no events is confirmed at once when nothing is in flight', () => {
    const c = new Checkpointer(start(5n));
    c.commit(end(50n));
    assert.equal(c.flushLsn, 50n);
  });

  test('keepalive positions move the flush LSN only when idle', () => {
    const c = new Checkpointer(start(0n));
    c.idle(wal(1000n), false);
    assert.equal(c.flushLsn, 1000n);
    c.idle(wal(2000n), true); // a transaction is open
    assert.equal(c.flushLsn, 1000n);
    const e = c.publish();
    c.idle(wal(3000n), false); // an event is in flight
    assert.equal(c.flushLsn, 1000n);
    c.acked(e);
    c.idle(wal(3000n), false); // acknowledged, but its commit has not arrived yet... (no open tx claimed)
    assert.equal(c.flushLsn, 3000n);
    c.idle(wal(10n), false); // never backwards
    assert.equal(c.flushLsn, 3000n);
  });

  test('a keepalive does not pass a commit that waits for acknowledgements', () => {
    const c = new Checkpointer(start(0n));
    const e = c.publish();
    c.commit(end(100n));
    c.idle(wal(500n), false);
    assert.equal(c.flushLsn, 0n);
    c.acked(e);
    assert.equal(c.flushLsn, 100n);
  });

  test('unknown and repeated acknowledgements are ignored', () => {
    const c = new Checkpointer(start(0n));
    const e = c.publish();
    c.commit(end(10n));
    c.acked(seq(99));
    c.acked(seq(0));
    assert.equal(c.flushLsn, 0n);
    c.acked(e);
    c.acked(e);
    assert.equal(c.flushLsn, 10n);
    assert.equal(c.inFlight, 0);
  });

  test('many transactions: the flush LSN is always the newest fully acknowledged commit', () => {
    const c = new Checkpointer(start(0n));
    const seqs: EventSeq[] = [];
    const commitAfter = new Map<number, bigint>();
    for (let t = 1; t <= 3000; t++) {
      for (let i = 0; i < t % 3; i++) seqs.push(c.publish());
      c.commit(end(BigInt(t * 10)));
      commitAfter.set(seqs.length, BigInt(t * 10));
    }
    // Acknowledge in a scrambled but deterministic order and check the invariant each time.
    const order = [...seqs].sort((a, b) => ((a * 7919) % 1009) - ((b * 7919) % 1009) || a - b);
    const acked = new Set<number>();
    for (const s of order) {
      c.acked(s);
      acked.add(s);
      let through = 0;
      while (acked.has(through + 1)) through++;
      let expected = 0n;
      for (const [last, lsn] of commitAfter) if (last <= through && lsn > expected) expected = lsn;
      assert.equal(c.flushLsn, expected);
    }
    assert.equal(c.flushLsn, 30000n);
  });
});

/**
 * Crashes and outages: whatever stops (pgwalstreams killed with SIGKILL or SIGTERM, nats-server
 * down), the stream ends up holding every committed change exactly once, in commit order, and
 * the slot never confirms a commit whose events JetStream has not stored.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseLsn } from '../../src/source/lsn.js';
import {
  readStream,
  streamCount,
  waitForConnection,
  waitForCount,
  type StoredEvent,
} from './harness/jetstream.js';
import {
  confirmedFlush,
  freshNames,
  serviceConfig,
  startServers,
  startService,
  type Names,
  type Servers,
} from './harness/scenario.js';
import type { ServiceProcess } from './harness/service.js';
import { waitFor } from './harness/wait.js';
import { assertExactlyOnceInOrder, insertTx, type Plan } from './harness/stream-checks.js';

/**
 * Asserts the checkpoint rule: every transaction whose commit LSN is below the slot's confirmed
 * position `confirmed` was completely stored in `stored` (read when the service was dead).
 */
function assertSlotNotAheadOfStream(
  stored: StoredEvent[],
  confirmed: bigint,
  finalEvents: StoredEvent[],
  plan: Plan,
) {
  const commitOf = new Map<number, bigint>();
  for (const e of finalEvents) commitOf.set(e.event.data['tx'] as number, parseLsn(e.event.lsn));
  const storedPerTx = new Map<number, number>();
  for (const e of stored)
    storedPerTx.set(e.event.data['tx'] as number, (storedPerTx.get(e.event.data['tx'] as number) ?? 0) + 1);
  let confirmedTx = 0;
  for (const [tx, rows] of plan) {
    if (commitOf.get(tx)! < confirmed) {
      confirmedTx++;
      assert.equal(
        storedPerTx.get(tx) ?? 0,
        rows,
        `transaction ${tx} was confirmed, so all its rows were stored`,
      );
    }
  }
  return confirmedTx;
}

describe('recovery', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
  });
  after(async () => {
    await s?.dispose();
  });

  async function setup(table: string): Promise<Names> {
    const names = await freshNames(s);
    await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, tx int NOT NULL, v text)`);
    return names;
  }

  test('kill -9 in the middle of a large transaction: every change exactly once after a restart', async (t) => {
    // GIVEN a small, a 200 000-row and a small transaction streaming through the service
    const names = await setup('k_items');
    const config = serviceConfig(s, names);
    let service: ServiceProcess = await startService(config);
    try {
      const plan: Plan = new Map([
        [1, 10],
        [2, 200_000],
        [3, 10],
      ]);
      await insertTx(s, 'k_items', 1, 10, 1);
      await insertTx(s, 'k_items', 2, 200_000, 11);
      await insertTx(s, 'k_items', 3, 10, 200_011);

      // WHEN the service is killed with SIGKILL while the large transaction is being published
      await waitForCount(s.nc, names.stream, 40_000, 60_000);
      service.kill('SIGKILL');
      await service.exited;
      const confirmed = await confirmedFlush(s, names.slot);
      const stored = await readStream(s.nc, names.stream);
      assert.ok(stored.length < 200_020, 'the kill landed before the large transaction was complete');

      // AND started again
      service = await startService(config);
      await waitForCount(s.nc, names.stream, 200_020, 120_000);

      // THEN the stream holds each change once, in order, and the slot never ran ahead of it
      const events = await readStream(s.nc, names.stream);
      assertExactlyOnceInOrder(events, plan);
      const confirmedTx = assertSlotNotAheadOfStream(stored, confirmed, events, plan);
      t.diagnostic(
        `killed with ${stored.length} of 200 020 events stored; ${confirmedTx} transaction(s) confirmed then`,
      );
      const large = parseLsn(events.find((e) => e.event.data['tx'] === 2)!.event.lsn);
      assert.ok(confirmed <= large, 'the incomplete transaction was not confirmed');
    } finally {
      await service.dispose();
    }
  });

  test('nats-server stopped mid-stream: nothing lost, nothing duplicated, slot never ahead of the stream', async (t) => {
    // GIVEN transactions streaming through the service
    const names = await setup('n_items');
    const config = serviceConfig(s, names, { nats: { ackTimeout: '2s' } });
    let service: ServiceProcess = await startService(config);
    const plan: Plan = new Map();
    let nextId = 1;
    const produce = async (fromTx: number, count: number, rows: number) => {
      for (let tx = fromTx; tx < fromTx + count; tx++) {
        await insertTx(s, 'n_items', tx, rows, nextId);
        plan.set(tx, rows);
        nextId += rows;
      }
    };
    try {
      // WHEN nats-server stops while events flow, and starts again
      await produce(1, 40, 2000);
      await waitForCount(s.nc, names.stream, 10_000);
      await s.nats.stop();
      await service.waitForLog('replication session failed, retrying', 30_000);
      await s.nats.start();
      await waitForConnection(s.nc);

      // THEN the service recovers by itself and every change arrives exactly once
      await waitForCount(s.nc, names.stream, 80_000, 120_000);
      assertExactlyOnceInOrder(await readStream(s.nc, names.stream), plan);

      // WHEN nats-server stops again mid-stream, and the service dies while it is down
      await produce(41, 20, 2000);
      await waitForCount(s.nc, names.stream, 85_000);
      await s.nats.stop();
      const failures = service.logs.filter((l) => l.msg === 'replication session failed, retrying').length;
      await waitFor(
        () => service.logs.filter((l) => l.msg === 'replication session failed, retrying').length > failures,
        {
          what: 'a failure after the second outage',
          timeoutMs: 30_000,
        },
      );
      service.kill('SIGKILL');
      await service.exited;
      const confirmed = await confirmedFlush(s, names.slot);
      await s.nats.start();
      await waitForConnection(s.nc);
      const stored = await readStream(s.nc, names.stream);

      // THEN every transaction the slot confirmed was stored in full
      service = await startService(config);
      await waitForCount(s.nc, names.stream, 120_000, 120_000);
      const events = await readStream(s.nc, names.stream);
      const confirmedTx = assertSlotNotAheadOfStream(stored, confirmed, events, plan);
      assert.ok(stored.length < 120_000, 'the second outage began before everything was stored');
      t.diagnostic(
        `second outage: ${stored.length} of 120 000 stored, ${confirmedTx} of 60 transactions confirmed`,
      );
      // AND after a restart the stream holds each change exactly once, in order
      assertExactlyOnceInOrder(events, plan);
    } finally {
      await service.dispose();
    }
  });

  test('SIGTERM mid-stream: exit 0, acknowledged transactions confirmed, nothing lost after a restart', async () => {
    // GIVEN a large and several small transactions streaming
    const names = await setup('st_items');
    const config = serviceConfig(s, names);
    let service: ServiceProcess = await startService(config);
    const plan: Plan = new Map([[1, 50_000]]);
    try {
      await insertTx(s, 'st_items', 1, 50_000, 1);
      for (let tx = 2; tx <= 11; tx++) {
        await insertTx(s, 'st_items', tx, 5, 50_000 + tx * 10);
        plan.set(tx, 5);
      }
      // WHEN it receives SIGTERM while publishing
      await waitForCount(s.nc, names.stream, 5_000);
      service.kill('SIGTERM');
      const exit = await service.exited;

      // THEN it exits 0, and every transaction stored in full is confirmed
      assert.deepEqual(exit, { code: 0, signal: null });
      const confirmed = await confirmedFlush(s, names.slot);
      const stored = await readStream(s.nc, names.stream);
      const storedPerTx = new Map<number, { n: number; lsn: bigint }>();
      for (const e of stored) {
        const tx = e.event.data['tx'] as number;
        storedPerTx.set(tx, { n: (storedPerTx.get(tx)?.n ?? 0) + 1, lsn: parseLsn(e.event.lsn) });
      }
      for (const [tx, { n, lsn }] of storedPerTx) {
        if (n === plan.get(tx))
          assert.ok(confirmed > lsn, `transaction ${tx} was acknowledged in full and confirmed`);
        else assert.ok(confirmed <= lsn, `transaction ${tx} is incomplete and not confirmed`);
      }

      // AND after a restart everything arrives exactly once
      service = await startService(config);
      await waitForCount(s.nc, names.stream, 50_050, 60_000);
      assertExactlyOnceInOrder(await readStream(s.nc, names.stream), plan);
      assert.equal(await streamCount(s.nc, names.stream), 50_050);
    } finally {
      await service.dispose();
    }
  });
});

/**
 * Backfills while the service streams: DBLog chunks between watermarks, progress in the key-value
 * bucket. Each test checks the whole stream: a consumer applying it in order ends with the table
 * (see harness/consumer.ts), no event id is stored twice and no row is snapshotted twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BackfillStore } from '../../src/backfill/progress.js';
import { queueBackfill } from './harness/backfill.js';
import {
  assertNoIdTwice,
  assertNoRowSnapshottedTwice,
  assertStateEqualsTables,
  consume,
  touchAndSettle,
  type ConsumedTable,
} from './harness/consumer.js';
import { readStream, streamCount } from './harness/jetstream.js';
import {
  freshNames,
  serviceConfig,
  startServers,
  startService,
  type Names,
  type Servers,
} from './harness/scenario.js';
import { runPgwalstreams, ServiceProcess } from './harness/service.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './harness/wait.js';

async function waitForState(store: BackfillStore, id: string, state: string, timeoutMs = 120_000) {
  return waitFor(async () => (await store.get(id))?.state === state && (await store.get(id)), {
    timeoutMs,
    intervalMs: 200,
    what: `backfill ${id} ${state}`,
  });
}

/** Updates and deletes random keys of `items` (and inserts new ones) until stopped. */
function startWriters(s: Servers, rows: number): { stop: () => Promise<number> } {
  let running = true;
  let n = 0;
  let next = rows + 1;
  const transactions = async (c: pg.Client) => {
    while (running) {
      const k = 1 + Math.floor(Math.random() * rows);
      await c.query('BEGIN');
      await c.query('UPDATE items SET v = v + 1 WHERE id = $1', [k]);
      await c.query('DELETE FROM items WHERE id = $1', [rows + 1 - k]);
      await c.query('INSERT INTO items VALUES ($1, 0, $2) ON CONFLICT (id) DO NOTHING', [next++, 'new']);
      await c.query('INSERT INTO items VALUES ($1, 0, $2) ON CONFLICT (id) DO UPDATE SET v = items.v - 1', [
        k + 1,
        'back',
      ]);
      await c.query('COMMIT');
      n++;
    }
  };
  // A restart of PostgreSQL ends the connection: the writers connect again. Whether the
  // transaction in flight committed does not matter, the oracle is the table itself.
  const loop = async () => {
    while (running) {
      const c = new pg.Client({ connectionString: s.pg.connectionString });
      c.on('error', () => {});
      try {
        await c.connect();
        await transactions(c);
      } catch (err) {
        if (!isConnectionLoss(err)) throw err;
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        await c.end().catch(() => {});
      }
    }
  };
  const done = loop();
  return {
    stop: async () => {
      running = false;
      await done;
      return n;
    },
  };
}

/** An error of a connection the server closed or refused (a restart), not of the SQL. */
function isConnectionLoss(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    e.code === '57P01' || // admin_shutdown
    e.code === 'ECONNREFUSED' ||
    e.code === 'ECONNRESET' ||
    /Connection terminated|not queryable|the database system is (starting up|shutting down)/.test(
      e.message ?? '',
    )
  );
}

const ITEMS: ConsumedTable = { name: 'items', key: ['id'] };

describe('backfill', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
  });
  after(async () => {
    await s?.dispose();
  });

  async function itemsTable(rows: number): Promise<Names> {
    const names = await freshNames(s);
    await s.pg.query('DROP TABLE IF EXISTS items');
    await s.pg.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, label text NOT NULL)');
    await s.pg.query(`INSERT INTO items SELECT g, 0, 'row ' || g FROM generate_series(1, ${rows}) g`);
    await s.pg.query('ANALYZE items');
    return names;
  }

  test('killed with kill -9 at about half, then resumed: complete, no row stored twice, under updates and deletes of the same keys', async () => {
    // GIVEN a streaming service, a table of 60 000 rows and writers updating and deleting its keys
    const ROWS = 60_000;
    const names = await itemsTable(ROWS);
    const config = serviceConfig(s, names);
    (config as { backfill?: object }).backfill = { maxChunkRows: 2000, chunkTime: '50ms' };
    let service: ServiceProcess = await startService(config);
    const writers = startWriters(s, ROWS);
    try {
      // WHEN a backfill runs and the service is killed with SIGKILL at about half of it
      const { store, id } = await queueBackfill(s.nc, names.slot, 'items', ['id']);
      await waitFor(async () => ((await store.get(id))?.tables[0]?.rows ?? 0) >= ROWS / 2, {
        timeoutMs: 120_000,
        intervalMs: 20,
        what: 'half the backfill done',
      });
      service.kill('SIGKILL');
      await service.dispose();
      const atKill = (await store.get(id))!;
      assert.notEqual(atKill.state, 'done', 'the backfill was killed before its end');
      service = await startService(config);
      // THEN it continues and completes
      const done = await waitForState(store, id, 'done');
      assert.ok(done && done.tables[0]!.chunks > atKill.tables[0]!.chunks, 'it went on after the restart');
      const transactions = await writers.stop();
      assert.ok(transactions > 0);
      await touchAndSettle(s, names, [ITEMS]);
      const events = await readStream(s.nc, names.stream);
      const consumed = consume(events, [ITEMS]);
      const snapshotted = assertNoRowSnapshottedTwice(events, ITEMS, id);
      assert.ok(snapshotted > ROWS / 2, `${snapshotted} rows snapshotted`);
      assert.equal(consumed.ends.length, 1);
      assert.equal(consumed.ends[0]!.state, 'done');
      assertNoIdTwice(events);
      assertStateEqualsTables(consumed);
    } finally {
      await writers.stop().catch(() => 0);
      await service.dispose();
    }
  });

  test('through faults (PostgreSQL restarted, nats-server frozen, nats-server killed with kill -9) under writers: complete, no row twice, the table', async () => {
    // GIVEN a streaming service, a table of 60 000 rows, writers, and a backfill
    const ROWS = 60_000;
    const names = await itemsTable(ROWS);
    const config = serviceConfig(s, names);
    // Small chunks, so that the backfill is still running when the last fault comes.
    (config as { backfill?: object }).backfill = { maxChunkRows: 500, chunkTime: '50ms' };
    const service = await startService(config);
    const writers = startWriters(s, ROWS);
    let writing = true;
    try {
      const { store, id } = await queueBackfill(s.nc, names.slot, 'items', ['id']);
      // Each fault comes while the backfill runs: the record read just before it is not done.
      const reach = (n: number, what: string) =>
        waitFor(
          async () => {
            const r = await store.get(id);
            assert.notEqual(r?.state, 'done', `the backfill ended before ${what}`);
            return (r?.tables[0]?.rows ?? 0) >= n;
          },
          { timeoutMs: 120_000, intervalMs: 20, what },
        );
      // WHEN PostgreSQL is restarted at a sixth, nats-server frozen for 3 s at a third, and
      // killed with kill -9 at half (last: the test's own reads of the bucket recover slowly)
      await reach(ROWS / 6, 'the restart of PostgreSQL');
      await s.pg.restart();
      await reach(ROWS / 3, 'the freeze of nats-server');
      s.nats.pause();
      await new Promise((r) => setTimeout(r, 3000));
      s.nats.resume();
      await reach(ROWS / 2, 'the kill of nats-server');
      await s.nats.kill9();
      await s.nats.start();
      // THEN it completes
      const done = await waitFor(
        async () => {
          const r = await store.get(id).catch(() => undefined);
          return r?.state === 'done' ? r : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 200, what: `backfill ${id} done` },
      );
      assert.ok(done.tables[0]!.rows >= ROWS / 2, `${done.tables[0]!.rows} rows counted`);
      writing = false;
      assert.ok((await writers.stop()) > 0, 'the writers changed the table');
      await touchAndSettle(s, names, [ITEMS]);
      const events = await readStream(s.nc, names.stream);
      const consumed = consume(events, [ITEMS]);
      assertNoRowSnapshottedTwice(events, ITEMS, id);
      assert.equal(consumed.ends.length, 1);
      assert.equal(consumed.ends[0]!.state, 'done');
      assertNoIdTwice(events);
      assertStateEqualsTables(consumed);
    } finally {
      s.nats.resume();
      if (writing) await writers.stop().catch(() => 0);
      await service.dispose();
    }
  });

  test('--where: only the rows that meet it; cancel: the table ends with a cancelled marker', async () => {
    const ROWS = 20_000;
    const names = await itemsTable(ROWS);
    const config = serviceConfig(s, names);
    (config as { backfill?: object }).backfill = { maxChunkRows: 500, chunkTime: '20ms' };
    const service = await startService(config);
    try {
      // a condition
      const even = await queueBackfill(s.nc, names.slot, 'items', ['id'], { where: 'id % 2 = 0' });
      await waitForState(even.store, even.id, 'done');
      let events = await readStream(s.nc, names.stream);
      const snapshots = events.filter((e) => e.event?.action === 'SNAPSHOT');
      assert.equal(snapshots.length, ROWS / 2);
      assert.ok(snapshots.every((e) => (e.event.data['id'] as number) % 2 === 0));
      // a cancel
      const before = await streamCount(s.nc, names.stream);
      const all = await queueBackfill(s.nc, names.slot, 'items', ['id']);
      await waitFor(async () => ((await all.store.get(all.id))?.tables[0]?.chunks ?? 0) >= 2, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: 'two chunks done',
      });
      await all.store.requestCancel(all.id);
      const cancelled = await waitForState(all.store, all.id, 'cancelled');
      assert.ok(cancelled && cancelled.tables[0]!.rows < ROWS, 'cancelled before the end');
      const count = await streamCount(s.nc, names.stream);
      await new Promise((r) => setTimeout(r, 1500));
      assert.equal(await streamCount(s.nc, names.stream), count, 'nothing is published after the cancel');
      events = (await readStream(s.nc, names.stream)).filter((e) => e.seq > before);
      const end = events.filter((e) => e.event?.action === 'SNAPSHOT_END');
      assert.equal(end.length, 1);
      assert.equal(end[0]!.event['state'], 'cancelled');
      assert.equal(end[0]!.event['rows'], events.filter((e) => e.event?.action === 'SNAPSHOT').length);
    } finally {
      await service.dispose();
    }
  });

  test('the backfill command: refusals name the problem and queue nothing; a good one is run by the service; list and cancel', async () => {
    const names = await itemsTable(3000);
    await s.pg.query('DROP TABLE IF EXISTS nokey, hidden');
    await s.pg.query('CREATE TABLE nokey (a int)');
    await s.pg.query('CREATE TABLE hidden (id int PRIMARY KEY)');
    const config = serviceConfig(s, names, {
      database: { filter: { tables: { items: ['insert', 'update', 'delete'], nokey: ['insert'] } } },
    });
    // A bucket of its own: the other tests' backfills are in the default one.
    const bucket = 'pgwalstreams_cli_test';
    (config as { backfill?: object }).backfill = { bucket };
    const file = join(mkdtempSync(join(tmpdir(), 'pgwalstreams-backfill-')), 'config.yml');
    writeFileSync(file, JSON.stringify(config)); // JSON is YAML
    const cli = (...args: string[]) => runPgwalstreams([...args, '--config', file]);

    const refused = await cli(
      'backfill',
      'missing',
      'nokey',
      'hidden',
      'items',
      '--where',
      'no_such_column > 1',
    );
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(refused.stderr, /table public\.missing does not exist/);
    assert.match(refused.stderr, /table public\.nokey has no primary key/);
    assert.match(refused.stderr, /the filter database\.filter\.tables does not publish public\.hidden/);
    assert.match(refused.stderr, /--where "no_such_column > 1" is not a condition on public\.items/);
    assert.match(refused.stderr, /no backfill was queued/);
    const none = await cli('backfill', 'list');
    assert.equal(none.status, 0, none.stderr);
    assert.match(none.stdout, new RegExp(`no backfills for slot ${names.slot}`));
    assert.equal((await cli('backfill', 'cancel', 'bf-none')).status, 1);

    const noBucket = await cli('status');
    assert.match(noBucket.stdout, /backfills {4}none \(no progress bucket\)/);
    // A backfill queued while no service runs waits for the one that will hold the slot.
    const queued = await cli('backfill', 'public.items', '--where', 'id <= 100');
    assert.equal(queued.status, 0, queued.stderr);
    const id = /backfill (bf-\S+) queued: public\.items/.exec(queued.stdout)?.[1];
    assert.ok(id, queued.stdout);
    const waiting = await cli('status');
    assert.match(waiting.stdout, /backfills {4}1 not ended\n/);
    assert.match(waiting.stdout, new RegExp(`\n  ${id}  backfill  pending .* where id <= 100\n`));
    assert.match(waiting.stdout, /\n {4}public\.items {2}pending {2}0 rows of about 3000/);

    const service = await startService(config);
    try {
      const store = await BackfillStore.open(s.nc, { bucket, replicas: 1 }, names.slot);
      await waitForState(store, id, 'done');
      const listed = await cli('backfill', 'list');
      assert.match(listed.stdout, new RegExp(`${id}  backfill  done`));
      assert.match(listed.stdout, /public\.items {2}done {2}100 rows/);
      const status = await cli('status');
      assert.equal(status.status, 0, status.stderr);
      assert.match(status.stdout, /backfills {4}none running \(1 ended: pgwalstreams backfill list\)/);
      const ended = await cli('backfill', 'cancel', id);
      assert.equal(ended.status, 0);
      assert.match(ended.stdout, /already ended: done/);
    } finally {
      await service.dispose();
    }
  });

  test('a standby takes a running backfill over with the slot', async () => {
    const ROWS = 40_000;
    const names = await itemsTable(ROWS);
    const config = serviceConfig(s, names);
    (config as { backfill?: object }).backfill = { maxChunkRows: 1000, chunkTime: '20ms' };
    const active = await startService(config);
    const standby = ServiceProcess.start(config);
    let survivor: ServiceProcess | null = null;
    try {
      await standby.waitForLog('standby: another instance holds the slot');
      const { store, id } = await queueBackfill(s.nc, names.slot, 'items', ['id']);
      await waitFor(async () => ((await store.get(id))?.tables[0]?.chunks ?? 0) >= 3, {
        timeoutMs: 60_000,
        intervalMs: 20,
        what: 'three chunks done',
      });
      active.kill('SIGKILL');
      await active.dispose();
      survivor = standby;
      await standby.waitForLog('replication started', 30_000);
      await waitForState(store, id, 'done');
      await touchAndSettle(s, names, [ITEMS]);
      const events = await readStream(s.nc, names.stream);
      assertNoRowSnapshottedTwice(events, ITEMS, id);
      assertNoIdTwice(events);
      assertStateEqualsTables(consume(events, [ITEMS]));
    } finally {
      await active.dispose();
      await (survivor ?? standby).dispose();
    }
  });
});

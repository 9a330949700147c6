/**
 * The initial snapshot: with `listener.snapshot: initial`, the service creates its slot with an
 * exported snapshot and publishes every published table's rows before any change, while writers
 * keep changing them; a consumer applying the stream in order ends with exactly the tables.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  assertNoIdTwice,
  assertNoRowSnapshottedTwice,
  assertStateEqualsTables,
  consume,
  touchAndSettle,
  type ConsumedTable,
} from './harness/consumer.js';
import { readStream, streamCount, waitForCount } from './harness/jetstream.js';
import { freshNames, serviceConfig, startServers, startService, type Servers } from './harness/scenario.js';
import { createMatrixTable, createMatrixTypes, insertMatrixRows } from './harness/type-matrix.js';

/**
 * Writers changing `big` (and `pairs` and `tm` unless `bigOnly`) until stopped: inserts, updates,
 * deletes in small transactions.
 */
function startWriters(s: Servers, bigRows: number, bigOnly = false): { stop: () => Promise<number> } {
  let running = true;
  let transactions = 0;
  const loop = async () => {
    const c = new pg.Client({ connectionString: s.pg.connectionString });
    await c.connect();
    let next = bigRows + 1;
    try {
      while (running) {
        const k = 1 + Math.floor(Math.random() * bigRows);
        await c.query('BEGIN');
        await c.query('UPDATE big SET v = v || $2, n = n + 1 WHERE id = $1', [k, 'u']);
        await c.query('DELETE FROM big WHERE id = $1', [k + 1]);
        await c.query('INSERT INTO big (id, v, n) VALUES ($1, $2, 0)', [next++, 'new']);
        if (!bigOnly) {
          await c.query(
            'INSERT INTO pairs (a, b, v) VALUES ($1, $2, 1) ON CONFLICT (a, b) DO UPDATE SET v = pairs.v + 1',
            [k % 50, `b${k % 7}`],
          );
          await c.query('UPDATE tm SET c_int4 = c_int4 + 1 WHERE id = 1');
        }
        await c.query('COMMIT');
        transactions++;
      }
    } finally {
      await c.end();
    }
  };
  const done = loop();
  return {
    stop: async () => {
      running = false;
      await done;
      return transactions;
    },
  };
}

describe('initial snapshot', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
    await createMatrixTypes(s.pg);
  });
  after(async () => {
    await s?.dispose();
  });

  test('three tables (200 000 rows, the type matrix, a composite key) under writers: snapshot first, then changes; the consumer ends with the tables', async () => {
    // GIVEN three tables with rows, and writers changing them all the time
    const BIG = 200_000;
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL)');
    await s.pg.query(`INSERT INTO big SELECT g, 'row ' || g, 0 FROM generate_series(1, ${BIG}) g`);
    await s.pg.query('CREATE TABLE pairs (a int, b text, v int, PRIMARY KEY (a, b))');
    await s.pg.query(
      `INSERT INTO pairs SELECT g % 50, 'b' || (g % 7), g FROM generate_series(1, 300) g ON CONFLICT DO NOTHING`,
    );
    await createMatrixTable(s.pg, 'tm');
    await insertMatrixRows(s.pg, 'tm');
    await s.pg.query('ANALYZE');
    const tables: ConsumedTable[] = [
      { name: 'big', key: ['id'] },
      { name: 'pairs', key: ['a', 'b'] },
      { name: 'tm', key: ['id'] },
    ];
    const writers = startWriters(s, BIG);

    // WHEN the service starts with an initial snapshot, and the writers stop once it is done
    const service = await startService(serviceConfig(s, names, { listener: { snapshot: 'initial' } }));
    try {
      await service.waitForLog('initial snapshot done: streaming changes', 120_000);
      const transactions = await writers.stop();
      assert.ok(transactions > 0, 'the writers changed the tables');
      // THEN (once the slot confirmed the touch: all of it is stored)
      await touchAndSettle(s, names, tables);
      const events = await readStream(s.nc, names.stream);

      // every snapshot event comes before the first change
      const firstChange = events.findIndex((e) => ['INSERT', 'UPDATE', 'DELETE'].includes(e.event?.action));
      const lastSnapshot = events.findLastIndex((e) => e.event?.action?.startsWith('SNAPSHOT'));
      assert.ok(
        firstChange > lastSnapshot,
        `snapshot events end (${lastSnapshot}) before the first change (${firstChange})`,
      );
      const consumed = consume(events, tables);
      // one end marker per table, with its row count
      assert.deepEqual(consumed.ends.map((e) => e.table).sort(), ['big', 'pairs', 'tm']);
      for (const end of consumed.ends) {
        assert.equal(end.state, 'done');
        assert.equal(
          end.rows,
          consumed.snapshotRows.get(end.table),
          `${end.table}: the marker counts its rows`,
        );
        assertNoRowSnapshottedTwice(events, tables.find((t) => t.name === end.table)!, end.backfill);
      }
      // The writers insert one row and delete one per transaction (started before the slot was made).
      const bigRows = consumed.snapshotRows.get('big')!;
      assert.ok(Math.abs(bigRows - BIG) <= 1, `${bigRows} rows of big in the snapshot`);
      assert.equal(consumed.snapshotRows.get('tm'), 3);
      assertNoIdTwice(events);
      assertStateEqualsTables(consumed);
      assert.ok(
        (await streamCount(s.nc, names.stream)) > BIG + transactions,
        'changes made during the snapshot were streamed after it',
      );
    } finally {
      await writers.stop().catch(() => 0);
      await service.dispose();
    }
  });

  test('a table without a primary key is read whole, duplicate rows included; an interrupted one ends with a failed marker', async () => {
    // GIVEN a table without a primary key whose rows come five times each
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE nopk (a int, b text)');
    await s.pg.query('ALTER TABLE nopk REPLICA IDENTITY FULL');
    await s.pg.query(`INSERT INTO nopk SELECT g % 100, 'v' || (g % 100) FROM generate_series(1, 495) g`);
    // and text that COPY escapes, five times too
    await s.pg.query(
      `INSERT INTO nopk SELECT 100, E'tab\\there\\nnew line\\r\\\\ back\\\\slash \\\\N ünï ✓' FROM generate_series(1, 5)`,
    );
    const config = serviceConfig(s, names, {
      listener: { snapshot: 'initial' },
      database: { filter: { tables: { nopk: ['insert', 'update', 'delete'] } } },
    });
    // WHEN the service snapshots it, and a row is inserted after
    const service = await startService(config);
    try {
      await waitForCount(s.nc, names.stream, 501);
      await s.pg.query(`INSERT INTO nopk VALUES (7, 'after')`);
      await waitForCount(s.nc, names.stream, 502);
      // THEN every row is there as many times as in the table, then the marker, then the change
      const events = (await readStream(s.nc, names.stream)).map((e) => e.event);
      assert.deepEqual(
        events.map((e) => e.action),
        [...Array<string>(500).fill('SNAPSHOT'), 'SNAPSHOT_END', 'INSERT'],
      );
      const key = (d: { a: number; b: string }) => `${d.a}/${d.b}`;
      const table = await s.pg.query<{ a: number; b: string }>(`SELECT a, b FROM nopk WHERE b <> 'after'`);
      assert.deepEqual(
        events
          .slice(0, 500)
          .map((e) => key(e.data as { a: number; b: string }))
          .sort(),
        table.map(key).sort(),
      );
      assert.deepEqual([events[500]!['state'], events[500]!['rows']], ['done', 500]);
    } finally {
      await service.dispose();
    }

    // GIVEN a large table without a primary key, and a service killed during its initial snapshot
    const big = await freshNames(s);
    await s.pg.query('CREATE TABLE nopk_big (a int, b text)');
    await s.pg.query(`INSERT INTO nopk_big SELECT g, 'row ' || g FROM generate_series(1, 300000) g`);
    const bigConfig = serviceConfig(s, big, {
      listener: { snapshot: 'initial' },
      database: { filter: { tables: { nopk_big: ['insert'] } } },
    });
    const killed = await startService(bigConfig);
    await waitForCount(s.nc, big.stream, 1000, 60_000);
    killed.kill('SIGKILL');
    await killed.dispose();
    const stored = await streamCount(s.nc, big.stream);
    assert.ok(stored < 300_001, `killed before the end (${stored} stored)`);
    // WHEN it starts again
    const again = await startService(bigConfig);
    try {
      // THEN the table's marker says failed, and the changes stream after it
      await again.waitForLog(
        /initial snapshot of public\.nopk_big was interrupted and cannot be continued/,
        60_000,
      );
      // (logged once the marker is stored)
      await again.waitForLog('backfill failed', 60_000);
      const withMarker = await streamCount(s.nc, big.stream);
      await s.pg.query('INSERT INTO nopk_big VALUES (0, $1)', ['after']);
      await waitForCount(s.nc, big.stream, withMarker + 1);
      const events = (await readStream(s.nc, big.stream)).map((e) => e.event);
      assert.equal(events.length, withMarker + 1);
      assert.equal(events.at(-1)!.action, 'INSERT');
      const marker = events.at(-2)!;
      assert.equal(marker.action, 'SNAPSHOT_END');
      assert.equal(marker['state'], 'failed');
      assert.ok(events.slice(0, -2).every((e) => e.action === 'SNAPSHOT'));
    } finally {
      await again.dispose();
    }
  });

  test('an initial snapshot killed with kill -9 is continued as a backfill after the last row stored: complete, no row twice', async () => {
    // GIVEN a table of 200 000 rows, writers changing it, and a service killed during its snapshot
    const ROWS = 200_000;
    const names = await freshNames(s);
    await s.pg.query('DROP TABLE IF EXISTS big');
    await s.pg.query('CREATE TABLE big (id int PRIMARY KEY, v text NOT NULL, n int NOT NULL)');
    await s.pg.query(`INSERT INTO big SELECT g, 'row ' || g, 0 FROM generate_series(1, ${ROWS}) g`);
    await s.pg.query('ANALYZE big');
    const tables: ConsumedTable[] = [{ name: 'big', key: ['id'] }];
    const config = serviceConfig(s, names, {
      listener: { snapshot: 'initial' },
      database: { filter: { tables: { big: ['insert', 'update', 'delete'] } } },
    });
    const writers = startWriters(s, ROWS, true);
    const killed = await startService(config);
    await waitForCount(s.nc, names.stream, ROWS / 4, 60_000);
    killed.kill('SIGKILL');
    await killed.dispose();
    const stored = await streamCount(s.nc, names.stream);
    assert.ok(stored < ROWS, `killed before the end of the snapshot (${stored} stored)`);
    // WHEN it starts again
    const again = await startService(config);
    try {
      // THEN the snapshot goes on as a backfill from the last row stored, and completes
      await again.waitForLog('backfill: continuing after the last snapshot event stored', 60_000);
      await again.waitForLog('backfill done', 120_000);
      assert.ok((await writers.stop()) > 0, 'the writers changed the table');
      await touchAndSettle(s, names, tables);
      const events = await readStream(s.nc, names.stream);
      const consumed = consume(events, tables);
      assert.equal(consumed.ends.length, 1);
      assert.equal(consumed.ends[0]!.state, 'done');
      assertNoRowSnapshottedTwice(events, tables[0]!, consumed.ends[0]!.backfill);
      assertNoIdTwice(events);
      assertStateEqualsTables(consumed);
    } finally {
      await writers.stop().catch(() => 0);
      await again.dispose();
    }
  });

  test('a slot that exists already is not snapshotted again', async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE again (id int PRIMARY KEY)');
    await s.pg.query('INSERT INTO again SELECT generate_series(1, 10)');
    const config = serviceConfig(s, names, {
      listener: { snapshot: 'initial' },
      database: { filter: { tables: { again: ['insert', 'update', 'delete'] } } },
    });
    let service = await startService(config);
    await waitForCount(s.nc, names.stream, 11);
    await service.dispose();
    service = await startService(config);
    try {
      await s.pg.query('INSERT INTO again VALUES (11)');
      await waitForCount(s.nc, names.stream, 12);
      const events = await readStream(s.nc, names.stream);
      assert.deepEqual(
        events.map((e) => e.event.action),
        [...Array<string>(10).fill('SNAPSHOT'), 'SNAPSHOT_END', 'INSERT'],
      );
    } finally {
      await service.dispose();
    }
  });
});

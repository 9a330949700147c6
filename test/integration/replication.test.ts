/**
 * End to end on real servers: row changes become the right events on the right subjects, the
 * filter keeps exactly what it names, rolled-back work publishes nothing, a 100 000-row
 * transaction streams through in bounded memory, and bad set-ups fail with clear errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { decodeEventId } from '../../src/event/event-id.js';
import { parseLsn } from '../../src/source/lsn.js';
import { createStream, readStream, streamCount, waitForCount } from './harness/jetstream.js';
import { startPostgres } from './harness/postgres.js';
import {
  confirmedFlush,
  freshNames,
  inTransaction,
  serviceConfig,
  startServers,
  startService,
  type Servers,
} from './harness/scenario.js';
import { ServiceProcess } from './harness/service.js';
import { waitFor } from './harness/wait.js';

const COMMIT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

describe('replication to jetstream', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
  });
  after(async () => {
    await s?.dispose();
  });

  test('insert, update, delete and truncate arrive as events on their subjects', async () => {
    // GIVEN two tables, one with the default replica identity and one with FULL
    const names = await freshNames(s);
    await s.pg.query(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, big int8, price numeric,
      doc jsonb, flag bool, note text)`);
    await s.pg.query('CREATE TABLE full_items (id int PRIMARY KEY, name text)');
    await s.pg.query('ALTER TABLE full_items REPLICA IDENTITY FULL');
    const service = await startService(serviceConfig(s, names));
    try {
      // WHEN each kind of change is committed
      await s.pg.query(`INSERT INTO items VALUES (1, 'a', 2, 9223372036854775807,
        12345678901234567890.123456789, '{"x": [1, 2], "y": null}', true, NULL)`);
      await s.pg.query("UPDATE items SET name = 'b' WHERE id = 1");
      await s.pg.query('UPDATE items SET id = 2 WHERE id = 1');
      await s.pg.query('DELETE FROM items WHERE id = 2');
      await s.pg.query("INSERT INTO full_items VALUES (1, 'x')");
      await s.pg.query("UPDATE full_items SET name = 'y'");
      await s.pg.query('DELETE FROM full_items');
      await s.pg.query('TRUNCATE items, full_items RESTART IDENTITY');

      // THEN each arrives once, in commit order, with its subject, payload and Nats-Msg-Id
      await waitForCount(s.nc, names.stream, 9);
      const events = await readStream(s.nc, names.stream);
      const p = names.prefix;
      assert.deepEqual(
        events.map((e) => e.subject),
        [
          `${p}.public.items.insert`,
          `${p}.public.items.update`,
          `${p}.public.items.update`,
          `${p}.public.items.delete`,
          `${p}.public.full_items.insert`,
          `${p}.public.full_items.update`,
          `${p}.public.full_items.delete`,
          `${p}.public.items.truncate`,
          `${p}.public.full_items.truncate`,
        ],
      );
      const row = { id: 1, name: 'a', qty: 2, flag: true, note: null, doc: { x: [1, 2], y: null } };
      const [ins, upd, keyUpd, del, fIns, fUpd, fDel, tr1, tr2] = events.map((e) => e.event);
      assert.ok(events[0]!.raw.includes('"big":9223372036854775807'), 'int8 keeps every digit');
      assert.ok(
        events[0]!.raw.includes('"price":12345678901234567890.123456789'),
        'numeric keeps every digit',
      );
      assert.deepEqual(
        { ...ins!.data, big: undefined, price: undefined },
        { ...row, big: undefined, price: undefined },
      );
      assert.equal(ins!.action, 'INSERT');
      assert.deepEqual(ins!.dataOld, {});
      assert.equal(upd!.action, 'UPDATE');
      assert.equal(upd!.data['name'], 'b');
      assert.deepEqual(upd!.dataOld, {}, 'default identity: no old key when the key did not change');
      assert.equal(keyUpd!.data['id'], 2);
      assert.deepEqual(keyUpd!.dataOld, { id: 1 }, 'default identity: the old key when the key changed');
      assert.equal(del!.action, 'DELETE');
      assert.deepEqual(del!.data, {});
      assert.deepEqual(del!.dataOld, { id: 2 });
      assert.deepEqual(fIns!.data, { id: 1, name: 'x' });
      assert.deepEqual(fUpd!.data, { id: 1, name: 'y' });
      assert.deepEqual(fUpd!.dataOld, { id: 1, name: 'x' }, 'FULL identity: the whole old row');
      assert.deepEqual(fDel!.dataOld, { id: 1, name: 'y' });
      assert.deepEqual(tr1!.truncate, { cascade: false, restartIdentity: true });
      assert.equal(tr2!.table, 'full_items');
      assert.equal(tr1!.lsn, tr2!.lsn, 'one TRUNCATE statement: one transaction');

      for (const { event, msgId } of events) {
        assert.equal(msgId, event.id, 'Nats-Msg-Id is the event id');
        assert.equal(event.schema, 'public');
        assert.match(event.commitTime, COMMIT_TIME);
        assert.equal(typeof event.xid, 'number');
        assert.equal(decodeEventId(event.id).commitLsn, parseLsn(event.lsn), 'the id encodes the commit LSN');
      }
      assert.equal(new Set(events.map((e) => e.event.id)).size, 9);
    } finally {
      await service.dispose();
    }
  });

  test('the filter publishes exactly the configured tables and actions; filtered changes still advance the slot', async () => {
    // GIVEN a filter naming one table in any schema and one schema-qualified table
    const names = await freshNames(s);
    await s.pg.query('CREATE SCHEMA other');
    await s.pg.query('CREATE TABLE f_items (id int PRIMARY KEY, v text)');
    await s.pg.query('CREATE TABLE other.f_items (id int PRIMARY KEY, v text)');
    await s.pg.query('CREATE TABLE other.things (id int PRIMARY KEY, v text)');
    await s.pg.query('CREATE TABLE public.things (id int PRIMARY KEY, v text)');
    const filter = { tables: { f_items: ['insert'], 'other.things': ['UPDATE', 'delete'] } };
    const service = await startService(serviceConfig(s, names, { database: { filter } }));
    try {
      // WHEN every table gets an insert, an update and a delete
      for (const table of ['f_items', 'other.f_items', 'other.things', 'public.things']) {
        await s.pg.query(`INSERT INTO ${table} VALUES (1, 'a')`);
        await s.pg.query(`UPDATE ${table} SET v = 'b'`);
        await s.pg.query(`DELETE FROM ${table}`);
      }
      // AND a last transaction touches only filtered-out tables
      const lastTxLsn = await inTransaction(s, async (c) => {
        await c.query("INSERT INTO public.things VALUES (2, 'z')");
        const r = await c.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
        return parseLsn(r.rows[0]!.lsn);
      });

      // THEN only the named tables and actions are published
      await waitForCount(s.nc, names.stream, 4);
      // AND the slot moves past the filtered-out transaction
      await waitFor(async () => (await confirmedFlush(s, names.slot)) > lastTxLsn, {
        what: 'the slot to confirm the filtered-out transaction',
      });
      const events = await readStream(s.nc, names.stream);
      const p = names.prefix;
      assert.deepEqual(
        events.map((e) => e.subject),
        [
          `${p}.public.f_items.insert`,
          `${p}.other.f_items.insert`,
          `${p}.other.things.update`,
          `${p}.other.things.delete`,
        ],
      );
    } finally {
      await service.dispose();
    }
  });

  test('a rolled-back transaction publishes nothing', async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE rb_items (id int PRIMARY KEY, v text)');
    const service = await startService(serviceConfig(s, names));
    try {
      // GIVEN a transaction that inserts and is rolled back, then a committed marker
      const c = await import('pg').then(
        (m) => new m.default.Client({ connectionString: s.pg.connectionString }),
      );
      await c.connect();
      await c.query('BEGIN');
      await c.query("INSERT INTO rb_items SELECT g, 'rolled back' FROM generate_series(1, 1000) g");
      await c.query('ROLLBACK');
      await c.end();
      await s.pg.query("INSERT INTO rb_items VALUES (5000, 'marker')");

      // WHEN the marker has arrived
      await waitForCount(s.nc, names.stream, 1);
      await waitFor(async () => (await confirmedFlush(s, names.slot)) > 0n, { what: 'a confirmed position' });

      // THEN it is the only event
      const events = await readStream(s.nc, names.stream);
      assert.equal(events.length, 1);
      assert.deepEqual(events[0]!.event.data, { id: 5000, v: 'marker' });
    } finally {
      await service.dispose();
    }
  });

  test('a 100 000-row transaction arrives complete and in order, in flat memory', async (t) => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE big_items (id int PRIMARY KEY, name text, payload jsonb)');
    const service = await startService(serviceConfig(s, names));
    try {
      // GIVEN the service has streamed a small transaction (its baseline memory)
      await s.pg.query(
        `INSERT INTO big_items SELECT g, 'row ' || g, jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
         FROM generate_series(1, 1000) g`,
      );
      await waitForCount(s.nc, names.stream, 1000);
      const baseline = service.peakRssBytes();

      // WHEN one transaction inserts 100 000 rows
      await s.pg.query(
        `INSERT INTO big_items SELECT g, 'row ' || g || repeat('x', 100), jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))
         FROM generate_series(1001, 101000) g`,
      );
      await waitForCount(s.nc, names.stream, 101_000, 120_000);
      const peak = service.peakRssBytes();

      // THEN every row arrives once, in order, and peak memory barely moves
      const events = await readStream(s.nc, names.stream);
      assert.equal(events.length, 101_000);
      const big = events.slice(1000);
      big.forEach((e, i) => {
        assert.equal(e.event.data['id'], 1001 + i);
        assert.equal(decodeEventId(e.event.id).position, i);
      });
      assert.equal(new Set(big.map((e) => e.event.lsn)).size, 1, 'one transaction');
      const mb = (b: number) => Math.round(b / 1024 / 1024);
      t.diagnostic(
        `peak RSS: ${mb(baseline)} MB after 1 000 rows, ${mb(peak)} MB after a 100 000-row transaction`,
      );
      assert.ok(peak - baseline < 64 * 1024 * 1024, `peak RSS grew by ${mb(peak - baseline)} MB`);
    } finally {
      await service.dispose();
    }
  });

  test('no stream for the subjects: nothing is confirmed, a clear error, and it recovers once a stream exists', async () => {
    // GIVEN no stream captures the service's subjects
    const names = await freshNames(s, { createStream: false });
    await s.pg.query('CREATE TABLE ns_items (id int PRIMARY KEY)');
    const service = await startService(serviceConfig(s, names, { nats: { ackTimeout: '2s' } }));
    try {
      const start = await confirmedFlush(s, names.slot);
      // WHEN a change is committed
      await s.pg.query('INSERT INTO ns_items VALUES (1)');
      // THEN the service says which subject has no stream and retries
      const line = await service.waitForLog('replication session failed, retrying');
      const err = line['err'] as { message: string };
      assert.match(
        err.message,
        new RegExp(`no JetStream stream captures subject ${names.prefix}\\.public\\.ns_items\\.insert`),
      );
      const during = await confirmedFlush(s, names.slot);

      // WHEN the stream is created
      await createStream(s.nc, names.stream, [`${names.prefix}.>`]);
      // THEN the change arrives once, and the slot had not moved past it before
      await waitForCount(s.nc, names.stream, 1, 60_000);
      const [event] = await readStream(s.nc, names.stream);
      const commitLsn = parseLsn(event!.event.lsn);
      assert.ok(start <= commitLsn && during <= commitLsn, 'the slot never passed the unpublished commit');
      await waitFor(async () => (await confirmedFlush(s, names.slot)) > commitLsn, {
        what: 'the commit confirmed',
      });
      assert.equal(await streamCount(s.nc, names.stream), 1);
    } finally {
      await service.dispose();
    }
  });

  test('a database in another encoding: text arrives as the same characters in UTF-8', async () => {
    // GIVEN a LATIN1 database with a table
    const names = await freshNames(s);
    await s.pg.query(
      "CREATE DATABASE latin ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'",
    );
    await s.pg.query('CREATE TABLE words (id int PRIMARY KEY, w text)', [], 'latin');
    const service = await startService(serviceConfig(s, names, { database: { name: 'latin' } }));
    try {
      // WHEN a row with non-ASCII text is inserted
      await s.pg.query("INSERT INTO words VALUES (1, 'Grüße, façade, niño ½')", [], 'latin');
      // THEN the event holds the same text
      await waitForCount(s.nc, names.stream, 1);
      const [e] = await readStream(s.nc, names.stream);
      assert.equal(e!.event.data['w'], 'Grüße, façade, niño ½');
    } finally {
      await service.dispose();
    }
  });

  test('a publication the user made is used as it is', async () => {
    // GIVEN the user's own publication for one table only
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE up_listed (id int PRIMARY KEY)');
    await s.pg.query('CREATE TABLE up_unlisted (id int PRIMARY KEY)');
    await s.pg.query(`CREATE PUBLICATION ${names.publication} FOR TABLE up_listed`);
    const service = await startService(serviceConfig(s, names));
    try {
      // WHEN both tables change
      await s.pg.query('INSERT INTO up_unlisted VALUES (1)');
      await s.pg.query('INSERT INTO up_listed VALUES (1)');
      // THEN only the listed table is published, and the publication still lists only it
      await waitForCount(s.nc, names.stream, 1);
      const events = await readStream(s.nc, names.stream);
      assert.deepEqual(
        events.map((e) => e.subject),
        [`${names.prefix}.public.up_listed.insert`],
      );
      const tables = await s.pg.query<{ tablename: string }>(
        'SELECT tablename FROM pg_publication_tables WHERE pubname = $1',
        [names.publication],
      );
      assert.deepEqual(
        tables.map((t) => t.tablename),
        ['up_listed'],
      );
    } finally {
      await service.dispose();
    }
  });

  test('names that are not valid subject tokens are escaped, never a wildcard or an extra token', async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE SCHEMA "my.schema"');
    await s.pg.query('CREATE TABLE "my.schema"."odd *> name" (id int PRIMARY KEY)');
    const service = await startService(serviceConfig(s, names));
    try {
      await s.pg.query('INSERT INTO "my.schema"."odd *> name" VALUES (1)');
      await waitForCount(s.nc, names.stream, 1);
      const [e] = await readStream(s.nc, names.stream);
      assert.equal(e!.subject, `${names.prefix}.my%2Eschema.odd%20%2A%3E%20name.insert`);
      assert.equal(e!.event.schema, 'my.schema');
      assert.equal(e!.event.table, 'odd *> name');
    } finally {
      await service.dispose();
    }
  });

  test('nats.stream in the configuration creates the stream when it is missing', async () => {
    const names = await freshNames(s, { createStream: false });
    await s.pg.query('CREATE TABLE cs_items (id int PRIMARY KEY)');
    const stream = { name: names.stream, storage: 'memory', duplicateWindow: '5m' };
    const service = await startService(serviceConfig(s, names, { nats: { stream } }));
    try {
      await service.waitForLog('jetstream stream created');
      await s.pg.query('INSERT INTO cs_items VALUES (1)');
      await waitForCount(s.nc, names.stream, 1);
      const info = await (await jetstreamManager(s.nc)).streams.info(names.stream);
      assert.deepEqual(info.config.subjects, [`${names.prefix}.>`]);
      assert.equal(info.config.duplicate_window, 5 * 60 * 1e9);
      assert.equal(info.config.storage, 'memory');
    } finally {
      await service.dispose();
    }
  });

  test('the slot advances while the published tables are idle and other databases write WAL', async () => {
    // GIVEN the service is streaming and has confirmed its start position
    const names = await freshNames(s);
    const service = await startService(serviceConfig(s, names, { listener: {} }));
    try {
      const start = await confirmedFlush(s, names.slot);
      // WHEN another database writes WAL and our database stays idle
      await s.pg.query('CREATE DATABASE other_db');
      await s.pg.query('CREATE TABLE noise (id int)', [], 'other_db');
      await s.pg.query('INSERT INTO noise SELECT generate_series(1, 10000)', [], 'other_db');
      const [{ lsn }] = (await s.pg.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')) as [
        { lsn: string },
      ];
      // THEN the slot's confirmed position moves past that WAL (keepalives confirmed when idle)
      await waitFor(async () => (await confirmedFlush(s, names.slot)) >= parseLsn(lsn), {
        what: 'the slot to advance past WAL of another database',
        timeoutMs: 60_000,
      });
      assert.ok((await confirmedFlush(s, names.slot)) > start);
      assert.equal(await streamCount(s.nc, names.stream), 0);
    } finally {
      await service.dispose();
    }
  });

  test('wal_level other than logical: a clear error and a non-zero exit', async () => {
    const replica = await startPostgres({ settings: { wal_level: 'replica' } });
    try {
      const names = await freshNames(s, { createStream: false });
      const service = ServiceProcess.start({
        ...serviceConfig(s, names),
        database: { host: replica.host, port: replica.port, name: 'postgres', user: replica.user },
      });
      const exit = await service.exited;
      assert.equal(exit.code, 1);
      const fatal = service.logs.find((l) => l.level === 60);
      assert.match(fatal?.msg ?? '', /wal_level = replica.*set it in postgresql\.conf/);
      await service.dispose();
    } finally {
      await replica.dispose();
    }
  });

  test('an invalid configuration: every problem listed, exit code 2', async () => {
    const names = await freshNames(s, { createStream: false });
    const service = ServiceProcess.start({
      ...serviceConfig(s, names),
      nats: { address: s.nats.url, topicPrefix: 'db.*', maxInFlight: 0 },
      database: {
        host: s.pg.host,
        port: 'x',
        name: 'postgres',
        user: 'postgres',
        password: 'hunter2-secret',
      },
    });
    const exit = await service.exited;
    assert.equal(exit.code, 2);
    const out = service.errorOutput;
    assert.match(out, /nats\.topicPrefix/);
    assert.match(out, /nats\.maxInFlight/);
    assert.match(out, /database\.port/);
    assert.ok(!out.includes('hunter2-secret'), 'the password never appears');
    await service.dispose();
  });
});

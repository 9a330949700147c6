/**
 * Faithful events on real servers: unchanged TOAST values, schema changes while streaming,
 * transactional outbox messages, and the transaction metadata consumers group events by.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { decodeEventId } from '../../src/event/event-id.js';
import { parseLsn } from '../../src/source/lsn.js';
import { readStream, waitForCount } from './harness/jetstream.js';
import { freshNames, serviceConfig, startServers, startService, type Servers } from './harness/scenario.js';

describe('faithful events', () => {
  let s: Servers;
  before(async () => {
    // A FULL-identity update of a 1 MB value carries it twice (data and dataOld): over NATS's
    // default max_payload of 1 MB.
    s = await startServers({ natsConfig: 'max_payload: 4MB\n' });
  });
  after(async () => {
    await s?.dispose();
  });

  test('a 1 MB TOASTed column left unchanged by an update is never published as null', async () => {
    // GIVEN a table with a 1 MB text value, under the default and under FULL replica identity
    const names = await freshNames(s);
    for (const table of ['toast_default', 'toast_full']) {
      await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, counter int, body text)`);
      // Random text does not compress, so it is stored out of line (TOASTed).
      await s.pg.query(
        `INSERT INTO ${table} SELECT 1, 0, string_agg(md5(random()::text), '') FROM generate_series(1, 32768)`,
      );
    }
    await s.pg.query('ALTER TABLE toast_full REPLICA IDENTITY FULL');
    const [{ body }] = (await s.pg.query<{ body: string }>('SELECT body FROM toast_full')) as [
      { body: string },
    ];
    assert.equal(body.length, 1_048_576);
    const service = await startService(serviceConfig(s, names, { nats: { maxInFlight: 16 } }));
    try {
      // WHEN another column is updated
      await s.pg.query('UPDATE toast_default SET counter = 1');
      await s.pg.query('UPDATE toast_full SET counter = 1');
      await waitForCount(s.nc, names.stream, 2);
      const [d, f] = (await readStream(s.nc, names.stream)).map((e) => e.event);

      // THEN default identity: the column is left out of data and named as unchanged
      assert.deepEqual(d!.data, { id: 1, counter: 1 });
      assert.deepEqual(d!['unchangedToastColumns'], ['body']);
      // AND FULL identity: the value is taken from the old row
      assert.equal(f!.data['counter'], 1);
      assert.equal(f!.data['body'], body);
      assert.equal(f!['unchangedToastColumns'], undefined);
      assert.equal(f!.dataOld['counter'], 0);
    } finally {
      await service.dispose();
    }
  });

  test("an event over the server's max_payload: a clear error, retried, never confirmed", async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE huge (id int PRIMARY KEY, body text)');
    const service = await startService(serviceConfig(s, names));
    try {
      // WHEN a row of about 5 MB is inserted
      await s.pg.query(
        `INSERT INTO huge SELECT 1, string_agg(md5(random()::text), '') FROM generate_series(1, 163840)`,
      );
      // THEN the service names the limit and the fix, and retries
      const line = await service.waitForLog('replication session failed, retrying');
      assert.match(
        (line['err'] as { message: string }).message,
        /is \d+ bytes with its headers, more than the NATS server's max_payload of 4194304 bytes: raise max_payload/,
      );
    } finally {
      await service.dispose();
    }
    // AND after the service stopped, the transaction is still in the slot: it was never confirmed
    const [left] = await s.pg.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM pg_logical_slot_peek_binary_changes($1, NULL, NULL,
         'proto_version', '1', 'publication_names', $2)`,
      [names.slot, names.publication],
    );
    assert.ok(Number(left!.n) >= 3, `begin, insert and commit are still in the slot (${left!.n} messages)`);
  });

  test('add, drop, rename and retype columns while streaming: each event uses the shape of its time', async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE shapes (id int PRIMARY KEY, a text, b int)');
    const service = await startService(serviceConfig(s, names));
    try {
      // GIVEN inserts between schema changes
      await s.pg.query("INSERT INTO shapes VALUES (1, 'one', 1)");
      await s.pg.query('ALTER TABLE shapes ADD COLUMN c jsonb');
      await s.pg.query(`INSERT INTO shapes VALUES (2, 'two', 2, '{"k": true}')`);
      await s.pg.query('ALTER TABLE shapes DROP COLUMN a');
      await s.pg.query(`INSERT INTO shapes VALUES (3, 3, '[3]')`);
      await s.pg.query('ALTER TABLE shapes RENAME COLUMN b TO bee');
      await s.pg.query(`INSERT INTO shapes VALUES (4, 4, 'null')`);
      await s.pg.query('ALTER TABLE shapes ALTER COLUMN bee TYPE numeric USING bee * 1.5');
      await s.pg.query(`INSERT INTO shapes VALUES (5, 12345678901234567890.5, '{}')`);
      // AND a schema change inside the same transaction as the rows around it
      const c = new pg.Client({ connectionString: s.pg.connectionString });
      await c.connect();
      await c.query('BEGIN');
      await c.query("INSERT INTO shapes VALUES (6, 6, '6')");
      await c.query('ALTER TABLE shapes ADD COLUMN d text');
      await c.query("INSERT INTO shapes VALUES (7, 7, '7', 'dee')");
      await c.query('COMMIT');
      await c.end();

      // THEN every event maps its values to the columns of its own time
      await waitForCount(s.nc, names.stream, 7);
      const events = await readStream(s.nc, names.stream);
      assert.deepEqual(
        events.map((e) => e.event.data),
        [
          { id: 1, a: 'one', b: 1 },
          { id: 2, a: 'two', b: 2, c: { k: true } },
          { id: 3, b: 3, c: [3] },
          { id: 4, bee: 4, c: null },
          { id: 5, bee: Number('12345678901234567890.5'), c: {} }, // JSON.parse rounds; the raw text below does not
          { id: 6, bee: 6, c: 6 },
          { id: 7, bee: 7, c: 7, d: 'dee' },
        ],
      );
      assert.ok(
        events[4]!.raw.includes('"bee":12345678901234567890.5'),
        'numeric after the type change is exact',
      );
    } finally {
      await service.dispose();
    }
  });

  test('outbox messages: published with their transaction if it commits, never if it rolls back', async () => {
    // GIVEN a service that publishes messages with the prefix "outbox" only
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE orders_ob (id int PRIMARY KEY, total numeric)');
    const filter = { messages: ['outbox'] };
    const service = await startService(serviceConfig(s, names, { database: { filter } }));
    try {
      const c = new pg.Client({ connectionString: s.pg.connectionString });
      await c.connect();
      // WHEN a transaction inserts a row and emits its event, and is rolled back
      await c.query('BEGIN');
      await c.query('INSERT INTO orders_ob VALUES (1, 10)');
      await c.query(`SELECT pg_logical_emit_message(true, 'outbox', '{"type":"OrderPlaced","id":1}')`);
      await c.query('ROLLBACK');
      // AND the same again, committed, with a message of another prefix and a non-JSON one
      await c.query('BEGIN');
      await c.query('INSERT INTO orders_ob VALUES (2, 20)');
      await c.query(`SELECT pg_logical_emit_message(true, 'outbox', '{"type":"OrderPlaced","id":2}')`);
      await c.query(`SELECT pg_logical_emit_message(true, 'other', 'filtered out')`);
      await c.query(`SELECT pg_logical_emit_message(true, 'outbox', 'plain text, not JSON')`);
      await c.query('INSERT INTO orders_ob VALUES (3, 30)');
      await c.query('COMMIT');
      // AND a non-transactional message
      await c.query(`SELECT pg_logical_emit_message(false, 'outbox', '{"type":"Ping"}')`);
      await c.end();

      // THEN the committed transaction's rows and messages arrive in transaction order
      await waitForCount(s.nc, names.stream, 5);
      const events = await readStream(s.nc, names.stream);
      const p = names.prefix;
      assert.deepEqual(
        events.map((e) => e.subject),
        [
          `${p}.public.orders_ob.insert`,
          `${p}.message.outbox`,
          `${p}.message.outbox`,
          `${p}.public.orders_ob.insert`,
          `${p}.message.outbox`,
        ],
      );
      assert.equal(events[0]!.event.data['id'], 2, 'the rolled-back row was never published');
      assert.equal(events[1]!.raw, '{"type":"OrderPlaced","id":2}', 'the content is the payload');
      assert.equal(events[2]!.raw, 'plain text, not JSON');
      assert.equal(events[4]!.raw, '{"type":"Ping"}');
      // AND positions count the filtered message too, so ids never depend on the filter
      assert.deepEqual(
        events.slice(0, 4).map((e) => decodeEventId(e.msgId).position),
        [0, 1, 3, 4],
      );
      // AND without nats.headers no transaction header is sent (the id holds the LSN and position),
      // but a message outside a transaction still says so
      assert.deepEqual(events[1]!.headers, {
        lsn: undefined,
        xid: undefined,
        position: undefined,
        transactional: undefined,
      });
      assert.equal(decodeEventId(events[1]!.msgId).commitLsn, parseLsn(events[0]!.event.lsn));
      assert.equal(events[4]!.headers.transactional, 'false');
      assert.equal(events[4]!.headers.xid, undefined);
    } finally {
      await service.dispose();
    }
  });

  test('transaction metadata: lsn, xid and position on every event, in headers with nats.headers, and an optional commit marker', async () => {
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE tx_meta (id int PRIMARY KEY)');
    await s.pg.query('CREATE TABLE tx_skip (id int PRIMARY KEY)');
    const config = serviceConfig(s, names, {
      nats: { transactionEvents: true, headers: ['lsn', 'xid', 'position'] },
      database: { filter: { tables: { tx_meta: ['insert'] } } },
    });
    const service = await startService(config);
    try {
      // GIVEN a transaction of three published rows and one filtered row, then one with only a filtered row
      const c = new pg.Client({ connectionString: s.pg.connectionString });
      await c.connect();
      await c.query('BEGIN');
      await c.query('INSERT INTO tx_meta VALUES (1), (2)');
      await c.query('INSERT INTO tx_skip VALUES (1)');
      await c.query('INSERT INTO tx_meta VALUES (3)');
      await c.query('COMMIT');
      await c.query('INSERT INTO tx_skip VALUES (2)');
      await c.query('INSERT INTO tx_meta VALUES (4)');
      await c.end();

      // THEN each event carries its transaction's lsn and xid and its position, in body and headers
      await waitForCount(s.nc, names.stream, 6);
      const events = await readStream(s.nc, names.stream);
      const p = names.prefix;
      assert.deepEqual(
        events.map((e) => e.subject),
        [
          `${p}.public.tx_meta.insert`,
          `${p}.public.tx_meta.insert`,
          `${p}.public.tx_meta.insert`,
          `${p}.transaction.commit`,
          `${p}.public.tx_meta.insert`,
          `${p}.transaction.commit`,
        ],
      );
      const [e1, e2, e3, marker] = events;
      assert.deepEqual(
        [e1, e2, e3].map((e) => e!.event.position),
        [0, 1, 3],
      );
      for (const e of [e1, e2, e3]) {
        assert.equal(e!.event.lsn, e1!.event.lsn);
        assert.deepEqual(e!.headers, {
          lsn: e!.event.lsn,
          xid: String(e!.event.xid),
          position: String(e!.event.position),
          transactional: undefined,
        });
      }
      // AND the commit marker gives the transaction's size; a transaction with nothing published has none
      const m = JSON.parse(marker!.raw) as Record<string, unknown>;
      assert.deepEqual(
        { ...m, id: undefined, commitTime: undefined },
        {
          id: undefined,
          commitTime: undefined,
          lsn: e1!.event.lsn,
          xid: e1!.event.xid,
          events: 3,
          changes: 4,
        },
      );
      assert.equal(m['commitTime'], e1!.event.commitTime);
      assert.equal(marker!.msgId, m['id']);
      assert.equal(new Set(events.map((e) => e.msgId)).size, 6);
    } finally {
      await service.dispose();
    }
  });
});

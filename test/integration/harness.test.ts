/**
 * Proves the integration harness: its PostgreSQL decodes pgoutput, its nats-server deduplicates by
 * `Nats-Msg-Id`, and both keep their state across a clean restart and across a SIGKILL. Every other
 * integration test builds on these guarantees.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { type NatsServer, startNats } from './harness/nats.js';
import { type PostgresServer, startPostgres } from './harness/postgres.js';
import { waitFor, WaitTimeoutError } from './harness/wait.js';

const STREAM = 'HARNESS';

describe('integration harness', () => {
  let postgres: PostgresServer;
  let nats: NatsServer;

  before(async () => {
    const [pgStart, natsStart] = await Promise.allSettled([startPostgres(), startNats()]);
    if (pgStart.status === 'rejected' || natsStart.status === 'rejected') {
      if (pgStart.status === 'fulfilled') await pgStart.value.dispose();
      if (natsStart.status === 'fulfilled') await natsStart.value.dispose();
      throw pgStart.status === 'rejected' ? pgStart.reason : (natsStart as PromiseRejectedResult).reason;
    }
    postgres = pgStart.value;
    nats = natsStart.value;
  });

  after(async () => {
    await Promise.all([postgres?.dispose(), nats?.dispose()]);
  });

  test('postgres is our own cluster, in logical mode', async () => {
    assert.notEqual(postgres.port, 5432);
    assert.match(
      postgres.connectionString,
      new RegExp(`^postgresql://postgres@127\\.0\\.0\\.1:${postgres.port}/`),
    );
    const [row] = await postgres.query<{ wal_level: string }>('SHOW wal_level');
    assert.equal(row?.wal_level, 'logical');
    const [dir] = await postgres.query<{ setting: string }>(
      "SELECT setting FROM pg_settings WHERE name = 'data_directory'",
    );
    assert.equal(dir?.setting, postgres.dataDir);
  });

  test('postgres: a pgoutput slot decodes a change and survives a restart and a crash', async () => {
    // GIVEN a table in a publication, a pgoutput slot, and one committed insert after it
    await postgres.query('CREATE TABLE harness_items (id int PRIMARY KEY, name text)');
    await postgres.query('CREATE PUBLICATION harness_pub FOR TABLE harness_items');
    await postgres.query("SELECT pg_create_logical_replication_slot('harness_slot', 'pgoutput')");
    await postgres.query("INSERT INTO harness_items VALUES (1, 'first')");

    // WHEN the slot is peeked, THEN it yields Begin, Relation, Insert, Commit carrying the value
    const expected = ['B', 'R', 'I', 'C'];
    assert.deepEqual(await peekTags(postgres), expected);
    const insert = (await peek(postgres)).find((message) => message[0] === 'I'.charCodeAt(0));
    assert.ok(insert?.includes('first'), 'the insert message carries the new value');

    // WHEN postgres is stopped and started, THEN the slot and its unconsumed change are still there
    await postgres.stop();
    await assert.rejects(postgres.query('SELECT 1'), 'a stopped server refuses connections');
    await postgres.start();
    assert.deepEqual(await peekTags(postgres), expected);

    // WHEN postgres is killed with SIGKILL and started, THEN crash recovery keeps them too
    await postgres.kill9();
    await assert.rejects(postgres.query('SELECT 1'), 'a killed server refuses connections');
    await postgres.start();
    assert.deepEqual(await peekTags(postgres), expected);
    const slots = await postgres.query<{ slot_name: string; plugin: string }>(
      'SELECT slot_name, plugin FROM pg_replication_slots',
    );
    assert.deepEqual(slots, [{ slot_name: 'harness_slot', plugin: 'pgoutput' }]);
  });

  test('postgres: restart (fast) ends open sessions, rolls back their open transaction and keeps the data', async () => {
    // GIVEN a committed row and a session with an open transaction
    await postgres.query('CREATE TABLE harness_restart (id int PRIMARY KEY)');
    await postgres.query('INSERT INTO harness_restart VALUES (1)');
    const open = new pg.Client({ connectionString: postgres.connectionString });
    open.on('error', () => undefined);
    await open.connect();
    await open.query('BEGIN');
    await open.query('INSERT INTO harness_restart VALUES (2)');

    // WHEN postgres restarts
    await postgres.restart();

    // THEN the open session is gone, its transaction rolled back, and the committed row is kept
    await assert.rejects(open.query('COMMIT'));
    await open.end().catch(() => undefined);
    assert.equal(postgres.running, true);
    assert.deepEqual(await postgres.query('SELECT id FROM harness_restart'), [{ id: 1 }]);
  });

  test('postgres: createDatabase returns a working connection string', async () => {
    const connectionString = await postgres.createDatabase('harness_other');
    assert.equal(connectionString, postgres.connectionStringFor('harness_other'));
    const [row] = await postgres.query<{ db: string }>(
      'SELECT current_database() AS db',
      [],
      'harness_other',
    );
    assert.equal(row?.db, 'harness_other');
  });

  test('nats: a repeated Nats-Msg-Id is a duplicate, and the stream survives a restart and a crash', async () => {
    // GIVEN a file-backed stream
    let nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: STREAM, subjects: ['harness.>'], storage: StorageType.File });

    // WHEN one message is published twice with the same Nats-Msg-Id
    const js = jetstream(nc);
    const first = await js.publish('harness.items', 'first', { msgID: 'harness-1' });
    const second = await js.publish('harness.items', 'first', { msgID: 'harness-1' });

    // THEN JetStream stores it once and flags the second PubAck as a duplicate
    assert.equal(first.duplicate, false);
    assert.equal(second.duplicate, true);
    assert.equal(second.seq, first.seq);
    await nc.close();

    // WHEN nats-server is stopped and started on the same store
    await nats.stop();
    await assert.rejects(
      connect({ servers: nats.url, reconnect: false }),
      'a stopped server refuses clients',
    );
    await nats.start();

    // THEN the stream still holds the one message, and its id is still known as a duplicate
    nc = await connect({ servers: nats.url });
    await assertStoredOnce(nc);
    const third = await jetstream(nc).publish('harness.items', 'first', { msgID: 'harness-1' });
    assert.equal(third.duplicate, true);

    // WHEN nats-server is killed with SIGKILL and started, THEN the same holds
    await nc.close();
    await nats.kill9();
    await nats.start();
    nc = await connect({ servers: nats.url });
    try {
      await assertStoredOnce(nc);
    } finally {
      await nc.close();
    }
  });

  test('nats: a disposed server stays gone', async () => {
    const other = await startNats();
    await other.dispose();
    assert.equal(other.running, false);
    await assert.rejects(other.start(), /disposed/);
    await assert.rejects(connect({ servers: other.url, reconnect: false }));
  });

  test('waitFor returns the first result and names what it waited for on timeout', async () => {
    let calls = 0;
    assert.equal(
      await waitFor(() => (++calls === 3 ? 0 : undefined), { what: 'the third call', intervalMs: 1 }),
      0,
    );
    await assert.rejects(
      waitFor(() => false, { timeoutMs: 30, what: 'something that never happens' }),
      {
        name: WaitTimeoutError.name,
        message: 'timed out after 30 ms waiting for something that never happens',
      },
    );
    const never = new Promise<undefined>(() => undefined);
    await assert.rejects(
      waitFor(() => never, { timeoutMs: 30, what: 'a check that hangs' }),
      WaitTimeoutError,
    );
  });
});

/** The pgoutput messages pending on `harness_slot`, without consuming them. */
async function peek(postgres: PostgresServer): Promise<Buffer[]> {
  const rows = await postgres.query<{ data: Buffer }>(
    "SELECT data FROM pg_logical_slot_peek_binary_changes('harness_slot', NULL, NULL, " +
      "'proto_version', '1', 'publication_names', 'harness_pub')",
  );
  return rows.map((row) => row.data);
}

/** The message tags (first byte) of the pending pgoutput messages, e.g. `['B', 'R', 'I', 'C']`. */
async function peekTags(postgres: PostgresServer): Promise<string[]> {
  return (await peek(postgres)).map((data) => String.fromCharCode(data[0] ?? 0));
}

/** Asserts the harness stream holds exactly the one message published, with its Nats-Msg-Id header. */
async function assertStoredOnce(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(STREAM);
  assert.equal(info.state.messages, 1);
  const stored = await jsm.streams.getMessage(STREAM, { seq: info.state.first_seq });
  assert.equal(stored?.string(), 'first');
  assert.equal(stored?.header.get('Nats-Msg-Id'), 'harness-1');
}

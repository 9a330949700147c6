/**
 * The delivery promise under the faults that used to break it: stream order equals commit order
 * across a nats-server crash that comes back within the ack timeout, nothing is stored twice when
 * the replay is longer than the stream's duplicate window, and a stream that holds another
 * publisher's messages is refused with words rather than mixed into.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { createStream, readStream, waitForConnection, waitForCount } from './harness/jetstream.js';
import {
  freshNames,
  serviceConfig,
  startServers,
  startService,
  type Names,
  type Servers,
} from './harness/scenario.js';
import {
  assertExactlyOnceInOrder,
  assertStreamRefusedAtStart,
  insertTx,
  type Plan,
} from './harness/stream-checks.js';

describe('delivery under faults', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
  });
  after(async () => {
    await s?.dispose();
  });

  async function setup(table: string, options: { duplicateWindowMs?: number } = {}): Promise<Names> {
    const names = await freshNames(s, { createStream: false });
    await createStream(s.nc, names.stream, [`${names.prefix}.>`], options);
    await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, tx int NOT NULL, v text)`);
    return names;
  }

  test('nats-server killed and back within the ack timeout: stream order is commit order', async () => {
    // GIVEN transactions committed steadily, with an ack timeout longer than the outage
    const names = await setup('o_items');
    const service = await startService(serviceConfig(s, names, { nats: { ackTimeout: '5s' } }));
    try {
      const plan: Plan = new Map();
      const writer = (async () => {
        for (let tx = 1; tx <= 150; tx++) {
          await insertTx(s, 'o_items', tx, 50, (tx - 1) * 50 + 1);
          plan.set(tx, 50);
          await delay(20);
        }
      })();
      // WHEN nats-server is killed while events flow and starts again at once
      await waitForCount(s.nc, names.stream, 1_000);
      await s.nats.kill9();
      await s.nats.start();
      await waitForConnection(s.nc);
      await writer;

      // THEN every change is stored once, and in the stream's order commit order holds
      await waitForCount(s.nc, names.stream, 7_500, 120_000);
      assertExactlyOnceInOrder(await readStream(s.nc, names.stream), plan);
      await service.waitForLog(/^resuming after the last event stored/, 30_000);
    } finally {
      await service.dispose();
    }
  });

  test('a duplicate window of 100 ms: kill -9 mid-transaction, nothing stored twice after the restart', async () => {
    // GIVEN a stream that drops duplicates for 100 ms only, and a large transaction streaming
    const names = await setup('w_items', { duplicateWindowMs: 100 });
    const config = serviceConfig(s, names);
    let service = await startService(config);
    try {
      const plan: Plan = new Map([
        [1, 10],
        [2, 100_000],
      ]);
      await insertTx(s, 'w_items', 1, 10, 1);
      await insertTx(s, 'w_items', 2, 100_000, 11);

      // WHEN the service is killed while the large transaction is half stored, and restarted
      await waitForCount(s.nc, names.stream, 30_000, 60_000);
      service.kill('SIGKILL');
      await service.exited;
      const stored = (await readStream(s.nc, names.stream)).length;
      assert.ok(stored < 100_010, 'the kill landed before the large transaction was complete');
      service = await startService(config);

      // THEN the replay skips what the stream holds: each change once, in order
      await waitForCount(s.nc, names.stream, 100_010, 120_000);
      assertExactlyOnceInOrder(await readStream(s.nc, names.stream), plan);
      const resumed = await service.waitForLog(/^resuming after the last event stored/, 30_000);
      assert.ok((resumed['skipped'] as number) > 0, 'replayed events were skipped');
    } finally {
      await service.dispose();
    }
  });

  test("a stream whose last message is another publisher's: the service stops at its first event and says why", async () => {
    // GIVEN a stream on the prefix whose last message was published by someone else
    const names = await setup('f_items');
    const h = natsHeaders();
    h.set('Nats-Msg-Id', 'not-a-pgwalstreams-id');
    await jetstream(s.nc).publish(`${names.prefix}.public.f_items.insert`, '{}', { headers: h });

    // WHEN the service starts and a change is to be published there
    const service = await startService(serviceConfig(s, names));
    try {
      await insertTx(s, 'f_items', 1, 1, 1);
      const exit = await service.exited;

      // THEN it exits 1, naming the stream, the message and what to do
      assert.equal(exit.code, 1);
      const fatal = service.logs.find((l) => l.level === 60);
      assert.match(
        fatal?.msg ?? '',
        new RegExp(`stream ${names.stream} captures subjects of this pgwalstreams`),
      );
      assert.match(fatal?.msg ?? '', /was not published by it .*a stream \(or a topicPrefix\) of its own/);
    } finally {
      await service.dispose();
    }
  });

  test('another publisher writes into the stream mid-stream: the service stops, and refuses the stream after', async () => {
    // GIVEN the service streaming a backlog into its stream (one replica: events chained by ids, a
    // PubAck per batch)
    const names = await setup('m_items');
    const config = serviceConfig(s, names);
    const service = await startService(config);
    try {
      for (let tx = 1; tx <= 20; tx++) await insertTx(s, 'm_items', tx, 2000, (tx - 1) * 2000 + 1);
      await waitForCount(s.nc, names.stream, 2_000);

      // WHEN another client publishes one message into the same stream, and more changes follow
      await jetstream(s.nc).publish(`${names.prefix}.elsewhere`, '{}');
      await insertTx(s, 'm_items', 21, 10, 40_001);

      // THEN the service's next batch is refused (none of its events is stored after the other
      // publisher's message), and the next session finds that message last and stops
      const failed = await service.waitForLog('replication session failed, retrying', 30_000);
      assert.match(
        (failed['err'] as { message: string }).message,
        /^stream .* refused an event on .* because the stream's last message is not the event before it \(wrong last msg ID: \)/,
      );
      await service.waitForLog(
        /captures subjects of this pgwalstreams, but its last message .* was not published by it/,
        30_000,
      );
      assert.equal((await service.exited).code, 1);
      const events = await readStream(s.nc, names.stream);
      assert.equal(events.at(-1)?.raw, '{}', "the other publisher's message is the last");
      const ours = events.slice(0, -1);
      assert.ok(ours.length >= 2000 && ours.length < 40_010, `${ours.length} events before it`);
      assert.deepEqual(
        ours.map((e) => e.event?.data['id']),
        ours.map((_, i) => i + 1),
        'a prefix of the changes, in order, nothing after the foreign message',
      );
    } finally {
      await service.dispose();
    }
    // AND a new start refuses the stream at its first event
    await assertStreamRefusedAtStart(s, config, 'm_items', 22, 50_001);
  });
});

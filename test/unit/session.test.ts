/**
 * A replication session against sinks that misbehave, without servers: the walsender's side is a
 * `FakeSource` fed pgoutput frames, the sink a `RecordingSink` that acknowledges only when told.
 * Whatever the sink does, the flush LSN sent to the server must never pass a commit whose events
 * are not all acknowledged, and events must reach the sink in the order of their changes.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import { pino } from 'pino';
import { NatsClientError, PublishError, ReplicationError } from '../../src/errors.js';
import { decodeEventId, systemNamespace } from '../../src/event/event-id.js';
import { COMMIT_MARKER } from '../../src/event/transaction.js';
import { Metrics } from '../../src/ops/metrics.js';
import { Pipeline } from '../../src/pipeline.js';
import { Router, type RouteSettings } from '../../src/route/router.js';
import { Session, type SessionSettings } from '../../src/session.js';
import type { SinkFactory } from '../../src/sink/sink.js';
import type { FlushLsn } from '../../src/source/lsn.js';
import { TypeCatalog } from '../../src/source/type-catalog.js';
import { FakeSource } from '../builders/fake-source.js';
import { RecordingSinks, type RecordingSink } from '../builders/fake-sink.js';
import type { PlainMessage } from '../builders/tuples.js';

const START = 0x100n as FlushLsn;
const USERS: PlainMessage = {
  tag: 'relation',
  relationId: 1,
  schema: 'public',
  name: 'users',
  replicaIdentity: 'd',
  columns: [
    { isKey: true, name: 'id', typeOid: 20, typeMod: -1 },
    { isKey: false, name: 'name', typeOid: 25, typeMod: -1 },
  ],
};

/** The end LSN of the transaction committed at `commitLsn` in these tests. */
const endOf = (commitLsn: bigint) => commitLsn + 0x28n;

/** A transaction committed at `commitLsn` that inserts a row per id. */
function transaction(commitLsn: bigint, ids: readonly number[]): PlainMessage[] {
  return [
    { tag: 'begin', finalLsn: commitLsn, commitTime: 0n, xid: Number(commitLsn) },
    ...ids.map(
      (id): PlainMessage => ({ tag: 'insert', relationId: 1, newTuple: [String(id), `user ${id}`] }),
    ),
    { tag: 'commit', flags: 0, commitLsn, endLsn: endOf(commitLsn), commitTime: 0n },
  ];
}

/** The table's Relation, then transactions of two rows, one row and one row. */
const THREE_TRANSACTIONS: PlainMessage[] = [
  USERS,
  ...transaction(0x1000n, [1, 2]),
  ...transaction(0x2000n, [3]),
  ...transaction(0x3000n, [4]),
];

/** The log lines written, parsed. */
type LogLines = Record<string, unknown>[];

/** Stops the sessions a test started, also when it failed half-way. */
const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

/** A session on a fake source and recording sinks, with its log and metrics. */
function setUp(
  options: {
    settings?: Partial<SessionSettings>;
    routes?: Partial<RouteSettings>;
    sinks?: RecordingSinks;
  } = {},
) {
  const lines: LogLines = [];
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>);
        done();
      },
    }),
  );
  const source = new FakeSource(START);
  const sinks = options.sinks ?? new RecordingSinks();
  const metrics = new Metrics();
  const router = new Router({ topicPrefix: 'db', ...options.routes });
  const settings: SessionSettings = {
    slot: { slot: 'slot', publication: 'pub' },
    maxInFlight: 1000,
    shutdownTimeoutMs: 0,
    ...options.settings,
  };
  const session = new Session(settings, {
    source,
    sinks,
    catalog: new TypeCatalog(),
    router: () => router,
    log,
    metrics,
  });
  const controller = new AbortController();
  stops.push(() => controller.abort());
  /** Starts the session; resolves with the sink once it streams, and the run's outcome. */
  const start = async (): Promise<{ sink: RecordingSink; done: Promise<void> }> => {
    let streaming!: () => void;
    const started = new Promise<void>((resolve) => (streaming = resolve));
    const done = session.run(controller.signal, streaming);
    await Promise.race([started, done]);
    return { sink: sinks.sink!, done };
  };
  return { source, sinks, session, metrics, lines, start, stop: () => controller.abort() };
}

/** The `Nats-Msg-Id` parts and subject of each event, in the order the sink received them. */
const order = (sink: RecordingSink) =>
  sink.published.map((p) => `${p.meta.lsn}#${p.meta.position} ${p.subject}`);

describe('a session', () => {
  test('a faithful sink: each change published once, in order, and the last commit confirmed', async () => {
    // GIVEN a session streaming
    const t = setUp();
    const { sink, done } = await t.start();
    // WHEN three transactions arrive and the sink acknowledges every event
    t.source.send(...THREE_TRANSACTIONS);
    sink.ackAll();
    // THEN the events came in commit order and the last commit's end is confirmed
    assert.deepEqual(order(sink), [
      '0/1000#0 db.public.users.insert',
      '0/1000#1 db.public.users.insert',
      '0/2000#0 db.public.users.insert',
      '0/3000#0 db.public.users.insert',
    ]);
    assert.deepEqual(
      sink.published.map((p) => p.seq),
      [1, 2, 3, 4],
    );
    assert.deepEqual((JSON.parse(sink.published[2]!.body) as { data: unknown }).data, {
      id: 3,
      name: 'user 3',
    });
    assert.equal(t.source.askStatus(), endOf(0x3000n));
    // AND a stop confirms it once more, closes the sink and the source, and resolves
    t.stop();
    await done;
    assert.equal(t.source.lastFlush, endOf(0x3000n));
    assert.ok(sink.closed && t.source.closed);
    assert.equal(t.lines.at(-1)?.['msg'], 'replication stopped');
  });

  test('acks in reverse order: nothing is confirmed until the first event is acknowledged', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    t.source.send(...THREE_TRANSACTIONS);
    // WHEN the acks come last first, asking for a status after each
    const flushes: (bigint | undefined)[] = [];
    for (const seq of [4, 3, 2, 1]) {
      sink.ack(seq);
      flushes.push(t.source.askStatus());
    }
    // THEN the flush LSN stays at the start until every event up to a commit is acknowledged
    assert.deepEqual(flushes, [START, START, START, endOf(0x3000n)]);
    t.stop();
    await done;
  });

  test('acks in any order: the flush LSN is always the newest commit whose events are all acknowledged', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    // GIVEN transactions of 1 to 4 rows
    const commits: { lsn: bigint; lastSeq: number }[] = [];
    let seq = 0;
    t.source.send(USERS);
    for (let k = 1; k <= 30; k++) {
      const rows = (k % 4) + 1;
      t.source.send(
        ...transaction(
          BigInt(k) * 0x1000n,
          Array.from({ length: rows }, (_, i) => k * 10 + i),
        ),
      );
      seq += rows;
      commits.push({ lsn: BigInt(k) * 0x1000n, lastSeq: seq });
    }
    assert.equal(sink.published.length, seq);
    // WHEN they are acknowledged in a scrambled order
    const scrambled = sink.published
      .map((p) => p.seq)
      .sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101));
    const acked = new Set<number>();
    for (const s of scrambled) {
      sink.ack(s);
      acked.add(s);
      let through = 0;
      while (acked.has(through + 1)) through++;
      const confirmable = commits.filter((c) => c.lastSeq <= through).at(-1);
      // THEN each status confirms exactly the newest commit whose events are all acknowledged
      assert.equal(t.source.askStatus(), confirmable ? endOf(confirmable.lsn) : START);
    }
    assert.equal(t.source.lastFlush, endOf(30n * 0x1000n));
    t.stop();
    await done;
  });

  test('a dropped ack holds the slot at the commit before it, whatever is acknowledged after', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    t.source.send(
      USERS,
      ...transaction(0x1000n, [1, 2]),
      ...transaction(0x2000n, [3, 4]),
      ...transaction(0x3000n, [5]),
    );
    // WHEN every ack comes but that of event 3, the first of the second transaction
    sink.ack(1, 2, 4, 5);
    // THEN only the first transaction is confirmed, now and after a stop that gives up waiting
    assert.equal(t.source.askStatus(), endOf(0x1000n));
    t.stop();
    await done;
    assert.equal(t.source.lastFlush, endOf(0x1000n));
    const stopped = t.lines.find((l) => l['msg'] === 'replication stopped');
    assert.equal(stopped?.['unacknowledged'], 1);
    assert.equal(stopped?.['flushedLsn'], '0/1028');
  });

  test('events the sink says are stored already settle as acks: the replayed commit is confirmed', async () => {
    // GIVEN a session on a slot that existed before it (a replay is possible)
    const t = setUp();
    const { sink, done } = await t.start();
    assert.deepEqual(t.sinks.scope, {
      topicPrefix: 'db',
      source: { namespace: systemNamespace(t.source.systemId), slot: 'slot' },
      replay: true,
    });
    // WHEN the sink held the first transaction's events already and acknowledges the rest
    t.source.send(USERS, ...transaction(0x1000n, [1, 2]), ...transaction(0x2000n, [3]));
    sink.stored(1, 2);
    assert.equal(t.source.askStatus(), endOf(0x1000n));
    sink.ack(3);
    // THEN every commit is confirmed, and the stored ones are counted apart from the acks
    assert.equal(t.source.askStatus(), endOf(0x2000n));
    assert.match(await t.metrics.registry.metrics(), /^pgwalstreams_events_already_stored_total 2$/m);
    t.stop();
    await done;
  });

  test('the oldest unacknowledged event is reported by its wait, until its ack', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    assert.equal(t.session.oldestUnackedMs(), 0);
    t.source.send(USERS, ...transaction(0x1000n, [1]));
    const later = Date.now() + 5000;
    assert.ok(t.session.oldestUnackedMs(later) >= 5000, 'the event waits');
    sink.ack(1);
    assert.equal(t.session.oldestUnackedMs(later), 0);
    t.stop();
    await done;
  });

  test('a stalled sink: reading stops when the window is full and resumes when half of it is acknowledged', async () => {
    const t = setUp({ settings: { maxInFlight: 4 } });
    const { sink, done } = await t.start();
    // WHEN a transaction of ten rows arrives and nothing is acknowledged
    t.source.send(USERS, ...transaction(0x1000n, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    // THEN four events are published and the source is paused with the rest unread
    assert.equal(sink.published.length, 4);
    assert.ok(t.source.paused);
    assert.equal(t.source.waiting, 7); // six inserts and the commit
    // WHEN one is acknowledged, reading stays paused; at two (half the window), it resumes
    sink.ack(1);
    assert.ok(t.source.paused);
    assert.equal(sink.published.length, 4);
    sink.ack(2);
    // THEN two more are published before the window is full again
    assert.equal(sink.published.length, 6);
    assert.ok(t.source.paused);
    // AND once everything is acknowledged the transaction completes and is confirmed
    sink.ack(3, 4, 5, 6);
    sink.ack(7, 8);
    sink.ack(9, 10);
    assert.equal(sink.published.length, 10);
    assert.equal(t.source.waiting, 0);
    assert.equal(t.source.askStatus(), endOf(0x1000n));
    t.stop();
    await done;
  });

  test('a sink that fails: the session ends with its error, confirming only what was acknowledged', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    t.source.send(USERS, ...transaction(0x1000n, [1]), ...transaction(0x2000n, [2, 3]));
    sink.ack(1, 2);
    // WHEN the sink reports that event 3 could not be stored
    const err = new PublishError('no PubAck within 10 ms', { subject: 'db.public.users.insert' });
    sink.fail(err);
    // THEN the run rejects with that error, after confirming the first transaction only
    await assert.rejects(done, (e) => e === err);
    assert.equal(t.source.lastFlush, endOf(0x1000n));
    assert.ok(sink.closed && t.source.closed);
    assert.match(await t.metrics.registry.metrics(), /pgwalstreams_publish_errors_total 1/);
    // AND a later ack of the failed session changes nothing
    sink.ack(3);
    assert.equal(t.source.lastFlush, endOf(0x1000n));
  });

  test('a sink that cannot be opened: nothing is streamed and the source is closed', async () => {
    const refusal = new NatsClientError('the NATS client lacks protocol.sendCommand');
    const t = setUp({ sinks: new RecordingSinks(refusal) });
    await assert.rejects(
      t.session.run(new AbortController().signal, () => assert.fail('not streaming')),
      refusal,
    );
    assert.equal(t.source.streaming, false);
    assert.ok(t.source.closed);
  });

  test('the stream ends: the session fails with the server’s error and confirms what was acknowledged', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    t.source.send(USERS, ...transaction(0x1000n, [1]));
    sink.ackAll();
    const lost = new ReplicationError('replication connection lost');
    t.source.end(lost);
    await assert.rejects(done, (e) => e === lost);
    assert.equal(t.source.lastFlush, endOf(0x1000n));
  });

  test('a keepalive moves the flush LSN only when no transaction is open and nothing is in flight', async () => {
    const t = setUp();
    const { sink, done } = await t.start();
    // WHEN a keepalive comes while a transaction is open
    const [begin, insert, commit] = transaction(0x1000n, [1]);
    t.source.send(USERS, begin!, insert!);
    t.source.keepalive(0x5000n);
    assert.equal(t.source.lastFlush, START);
    // AND while its event is in flight after the commit
    t.source.send(commit!);
    t.source.keepalive(0x5000n);
    assert.equal(t.source.lastFlush, START);
    // THEN only once it is acknowledged does a keepalive's position count
    sink.ackAll();
    t.source.keepalive(0x5000n);
    assert.equal(t.source.lastFlush, 0x5000n);
    t.stop();
    await done;
  });

  test('a commit marker follows its transaction’s last event and holds the commit back until acknowledged', async () => {
    const t = setUp({ routes: { transactionEvents: true } });
    const { sink, done } = await t.start();
    t.source.send(USERS, ...transaction(0x1000n, [1, 2]));
    assert.deepEqual(order(sink), [
      '0/1000#0 db.public.users.insert',
      '0/1000#1 db.public.users.insert',
      '0/1000#null db.transaction.commit',
    ]);
    const { id, ...marker } = JSON.parse(sink.published[2]!.body) as Record<string, unknown>;
    assert.deepEqual(decodeEventId(String(id)), {
      namespace: systemNamespace(t.source.systemId),
      commitLsn: 0x1000n,
      position: COMMIT_MARKER,
    });
    assert.deepEqual(marker, {
      lsn: '0/1000',
      xid: 0x1000,
      commitTime: '2000-01-01T00:00:00.000000Z',
      events: 2,
      changes: 2,
    });
    sink.ack(1, 2);
    assert.equal(t.source.askStatus(), START);
    sink.ack(3);
    assert.equal(t.source.askStatus(), endOf(0x1000n));
    t.stop();
    await done;
  });

  test('filtered changes are not published, but their commit is confirmed', async () => {
    const t = setUp({ routes: { tables: { orders: ['insert'] } } });
    const { sink, done } = await t.start();
    t.source.send(USERS, ...transaction(0x1000n, [1, 2]));
    assert.equal(sink.published.length, 0);
    assert.equal(t.source.askStatus(), endOf(0x1000n));
    assert.match(await t.metrics.registry.metrics(), /pgwalstreams_events_filtered_total 2/);
    t.stop();
    await done;
  });
});

describe('the pipeline', () => {
  test('a failure a retry cannot fix stops it: no second session, the source closed', async () => {
    const sources: FakeSource[] = [];
    const sinks: SinkFactory = new RecordingSinks(
      new NatsClientError('the NATS client lacks protocol.sendCommand'),
    );
    const pipeline = new Pipeline(
      {
        slot: { slot: 'slot', publication: 'pub' },
        maxInFlight: 10,
        shutdownTimeoutMs: 0,
        routes: { topicPrefix: 'db' },
      },
      {
        openSource: () => {
          const source = new FakeSource(START);
          sources.push(source);
          return Promise.resolve(source);
        },
        sinks,
      },
      pino({ level: 'silent' }),
      new Metrics(),
    );
    await assert.rejects(pipeline.run(new AbortController().signal), NatsClientError);
    assert.equal(pipeline.state, 'failed');
    assert.equal(sources.length, 1);
    assert.ok(sources[0]!.closed);
  });
});

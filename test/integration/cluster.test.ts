/**
 * pgwalstreams against a 3-node JetStream cluster: an R3 file stream whose duplicate window is
 * 100 ms (so exactly-once cannot lean on it), transactions committed all along, and kill -9 of the
 * stream's leader (three times), of the node pgwalstreams is connected to, and of a follower, each
 * node started again once publishing resumed so the cluster keeps its quorum. The whole stream must
 * then hold every change once, in commit order.
 *
 * For each kill the test reports (as diagnostics, never asserted) how long the election took and
 * how long after the new leader was first seen the first event was stored (the server's timestamp
 * of the first message after the stream's last sequence at that moment), and the service's log
 * lines in between.
 *
 * The follower kill comes last on purpose. A node back from kill -9 may not know the stream's last
 * `Nats-Msg-Id` (nats-server 2.9.10 recovers it only when that message is within the duplicate
 * window, and does not learn it from messages a catch-up brings), and from then on its own replica
 * refuses every event that carries `Nats-Expected-Last-Msg-Id`, while its leader counts it current
 * (pinned in nats-cluster.test.ts; docs/RELIABILITY.md, "Replicas left behind"). With a 100 ms
 * window a killed follower always stays behind. Were the leader killed or stepped down after that,
 * the replica could lead, and the stream would lose the events it missed. So the stream is read
 * from its leader, and the diagnostics say what each replica holds at the end.
 *
 * A second test runs a backfill, with an R3 stream and an R3 progress bucket of their own, through
 * kill -9 of the stream's leader and then of the bucket's leader, while rows are updated and
 * deleted: the consumer of the stream must end with the table, no row snapshotted twice.
 *
 * A third test has another client publish into an R3 stream (chained by sequence, a PubAck per
 * event) while the service streams: the refusal leads to the other publisher's message, a stop
 * marker and a stop, and the stream is refused after.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  assertNoIdTwice,
  assertNoRowSnapshottedTwice,
  assertStateEqualsTables,
  consume,
  touchAndSettle,
  type ConsumedTable,
} from './harness/consumer.js';
import { queueBackfill } from './harness/backfill.js';
import { createStream, readStream, waitForCount } from './harness/jetstream.js';
import {
  nodeRoles,
  startNatsCluster,
  streamLeader,
  waitForClientNode,
  waitForStreamLeader,
  waitForStreamReplicas,
  type NatsCluster,
  type NatsClusterNode,
} from './harness/nats-cluster.js';
import { startPostgres, type PostgresServer } from './harness/postgres.js';
import { serviceConfig, startService, type Names } from './harness/scenario.js';
import { SERVICE_CLIENT_NAME, type LogLine, type ServiceProcess } from './harness/service.js';
import {
  assertExactlyOnceInOrder,
  assertStreamRefusedAtStart,
  insertTx,
  type Plan,
} from './harness/stream-checks.js';
import { waitFor } from './harness/wait.js';

const NAMES: Names = { slot: 'slot_cluster', publication: 'pub_cluster', prefix: 'tc', stream: 'CLUSTER' };
const TABLE = 'cl_items';
/** The wording of a missing stream: a stream without a leader must never be reported so. */
const MISSING_STREAM = 'no JetStream stream captures subject';

/** What one kill -9 did and cost. */
interface KillRecord {
  what: string;
  node: string;
  /** What else the node was: the stream's leader, the meta leader. */
  roles: string[];
  killedAt: number;
  /** How long the service's session had been replicating when the node was killed. */
  sessionRanMs: number | undefined;
  /** The stream leader after the kill (the same one unless the leader was killed). */
  leader: string;
  leaderSeenAt: number;
  /** The server's timestamp of the first event stored after the leader was seen. */
  firstStoredAt: number;
  /** The service's log lines from the kill to that first event. */
  lines: LogLine[];
}

describe('pgwalstreams against a 3-node JetStream cluster', () => {
  let pg: PostgresServer;
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  before(async () => {
    [pg, cluster] = await Promise.all([startPostgres(), startNatsCluster()]);
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    jsm = await jetstreamManager(nc, { checkAPI: false });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await Promise.all([pg?.dispose(), cluster?.dispose()]);
  });

  test('kill -9 of the stream leader (3 times), of the node the service is on, and of a follower: every change once, in commit order', async (t) => {
    // GIVEN an R3 stream with a 100 ms duplicate window, and the service given all three nodes
    await createStream(nc, NAMES.stream, [`${NAMES.prefix}.>`], { duplicateWindowMs: 100, replicas: 3 });
    await waitForStreamReplicas(nc, NAMES.stream, 3);
    await pg.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, tx int NOT NULL, v text)`);
    const service = await startService(
      serviceConfig({ pg, nats: { url: cluster.urls.join(',') } }, NAMES, { nats: { ackTimeout: '2s' } }),
    );
    const kills: KillRecord[] = [];
    try {
      // GIVEN transactions of 1 to 20 rows committed one after the other, all along
      const plan: Plan = new Map();
      let writing = true;
      const writer = (async () => {
        let firstId = 1;
        for (let tx = 1; writing; tx++) {
          const rows = 1 + (tx % 20);
          await insertTx({ pg }, TABLE, tx, rows, firstId);
          plan.set(tx, rows);
          firstId += rows;
          await delay(20);
        }
      })();
      try {
        await waitForCount(nc, NAMES.stream, 500);

        // WHEN the stream's leader is killed, three times, each node started again once
        // publishing resumed (so that two of three always remain for the next election)
        for (let i = 1; i <= 3; i++) {
          const leader = await waitForStreamLeader(nc, NAMES.stream);
          kills.push(await killAndRestart(`leader kill ${i}`, cluster.nodeByName(leader.name), service));
        }
        // WHEN the node the service is connected to is killed (its connz lists the service)
        const connected = await waitForClientNode(cluster, SERVICE_CLIENT_NAME);
        kills.push(await killAndRestart("kill of the service's node", connected, service));
        // WHEN a follower is killed (one the service is not connected to, when there is one)
        const leaderName = (await waitForStreamLeader(nc, NAMES.stream)).name;
        const serviceNodes = await cluster.nodesWithClient(SERVICE_CLIENT_NAME);
        const followers = cluster.nodes.filter((node) => node.name !== leaderName);
        const follower = followers.find((node) => !serviceNodes.includes(node)) ?? followers[0]!;
        kills.push(await killAndRestart('follower kill', follower, service));
      } finally {
        writing = false;
        await writer;
      }

      // THEN every change is stored once, in commit order, whatever the 100 ms window did
      const total = [...plan.values()].reduce((a, b) => a + b, 0);
      await waitForCount(nc, NAMES.stream, total, 60_000);
      assertExactlyOnceInOrder(await readStream(nc, NAMES.stream), plan);
      report(t, kills, plan.size, total);
      const replicas = [...(await cluster.replicaStates(NAMES.stream))].map(
        ([node, state]) =>
          `${node} ${state ? `${state.messages} messages, last ${state.last_seq}` : 'no answer'}`,
      );
      t.diagnostic(`replicas at the end (each node's own store): ${replicas.join('; ')}`);

      // THEN no election was reported as a missing stream, and the service never stopped
      const wrong = service.logs.filter((line) => JSON.stringify(line).includes(MISSING_STREAM));
      assert.deepEqual(wrong, [], `log lines saying "${MISSING_STREAM}" during an election`);
      assert.equal(service.logs.filter((line) => line.level >= 60).length, 0, 'no fatal log line');
    } finally {
      const exit = await service.dispose();
      assert.deepEqual(exit, { code: 0, signal: null }, 'the service stops cleanly at the end');
    }
  });

  test('a backfill through kill -9 of the stream leader and of the progress bucket leader (R3 stream and bucket): complete, no row twice, the table', async () => {
    // GIVEN an R3 stream, a service whose progress bucket is R3, and a table of 60 000 rows
    const names: Names = {
      slot: 'slot_cluster_bf',
      publication: 'pub_cluster_bf',
      prefix: 'tb',
      stream: 'CLUSTER_BF',
    };
    const bucket = 'pgwalstreams_cluster_bf';
    const ROWS = 60_000;
    const table: ConsumedTable = { name: 'cl_bf', key: ['id'] };
    await createStream(nc, names.stream, [`${names.prefix}.>`], { replicas: 3 });
    await waitForStreamReplicas(nc, names.stream, 3);
    await pg.query('CREATE TABLE cl_bf (id int PRIMARY KEY, v int NOT NULL)');
    await pg.query(`INSERT INTO cl_bf SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
    const config = serviceConfig({ pg, nats: { url: cluster.urls.join(',') } }, names, {
      nats: { ackTimeout: '2s' },
      database: { filter: { tables: { cl_bf: ['insert', 'update', 'delete'] } } },
    });
    (config as { backfill?: object }).backfill = {
      bucket,
      replicas: 3,
      maxChunkRows: 200,
      chunkTime: '50ms',
    };
    const service = await startService(config);
    let writing = true;
    // Updates and deletes of the rows being backfilled, all along
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const k = 1 + ((i * 7919) % ROWS);
        await pg.query('UPDATE cl_bf SET v = v + 1 WHERE id = $1', [k]);
        if (i % 10 === 0) await pg.query('DELETE FROM cl_bf WHERE id = $1', [ROWS + 1 - k]);
        await delay(5);
      }
    })();
    try {
      const { store, id } = await queueBackfill(nc, names.slot, 'cl_bf', ['id'], { bucket, replicas: 3 });
      const reach = (n: number, what: string) =>
        waitFor(
          async () => {
            const r = await store.get(id).catch(() => undefined);
            if (r) assert.notEqual(r.state, 'done', `the backfill ended before ${what}`);
            return (r?.tables[0]?.rows ?? 0) >= n;
          },
          { timeoutMs: 120_000, intervalMs: 20, what },
        );
      // WHEN the stream's leader is killed at a sixth of the backfill, and the bucket's at a third
      // (small chunks, so that the backfill still runs when the second kill comes)
      await reach(ROWS / 6, 'the kill of the stream leader');
      const leader = await waitForStreamLeader(nc, names.stream);
      await killAndRestart('stream leader kill', cluster.nodeByName(leader.name), service, names.stream);
      await reach(ROWS / 3, 'the kill of the bucket leader');
      const kvLeader = await waitForStreamLeader(nc, `KV_${bucket}`);
      await killAndRestart('bucket leader kill', cluster.nodeByName(kvLeader.name), service, `KV_${bucket}`);
      // THEN the backfill completes
      await waitFor(async () => (await store.get(id).catch(() => undefined))?.state === 'done', {
        timeoutMs: 120_000,
        intervalMs: 200,
        what: `backfill ${id} done`,
      });
      writing = false;
      await writer;
      await touchAndSettle({ pg }, names, [table]);
      const events = await readStream(nc, names.stream);
      const consumed = consume(events, [table]);
      assertNoRowSnapshottedTwice(events, table, id);
      assert.deepEqual(
        consumed.ends.map((e) => e.state),
        ['done'],
      );
      assertNoIdTwice(events);
      assertStateEqualsTables(consumed);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await service.dispose();
    }
  });

  test('another publisher writes into an R3 stream mid-stream (chained by sequence): the service stops, marks the stream, and refuses it after', async () => {
    // GIVEN the service streaming a backlog into an R3 stream, every event with its PubAck
    const names: Names = {
      slot: 'slot_cluster_share',
      publication: 'pub_cluster_share',
      prefix: 'ts',
      stream: 'CLUSTER_SHARE',
    };
    await createStream(nc, names.stream, [`${names.prefix}.>`], { replicas: 3 });
    await waitForStreamReplicas(nc, names.stream, 3);
    await pg.query('CREATE TABLE cl_share (id int PRIMARY KEY, tx int NOT NULL, v text)');
    const config = serviceConfig({ pg, nats: { url: cluster.urls.join(',') } }, names, {
      nats: { ackTimeout: '2s' },
      database: { filter: { tables: { cl_share: ['insert'] } } },
    });
    const service = await startService(config);
    try {
      for (let tx = 1; tx <= 10; tx++) await insertTx({ pg }, 'cl_share', tx, 2000, (tx - 1) * 2000 + 1);
      await waitForCount(nc, names.stream, 2_000);

      // WHEN another client publishes one message into the same stream, and more changes follow
      await jetstream(nc).publish(`${names.prefix}.elsewhere`, '{}');
      await insertTx({ pg }, 'cl_share', 11, 10, 20_001);

      // THEN an event is refused by its expected sequence, and before the next session the service
      // finds the other publisher's message, publishes a stop marker and stops
      const failed = await service.waitForLog('replication session failed, retrying', 60_000);
      assert.match(
        (failed['err'] as { message: string }).message,
        /^stream .* refused an event on .* does not end with the sequence the event expected/,
      );
      await service.waitForLog(
        /^stream .* holds a message of another publisher .* A stop marker was published/,
        60_000,
      );
      assert.equal((await service.exited).code, 1);
      const events = await readStream(nc, names.stream);
      assert.equal(events.at(-1)?.msgId, '', 'the last message is the stop marker');
      assert.match(events.at(-1)?.raw ?? '', /another publisher/);
    } finally {
      await service.dispose();
    }
    // AND a new start refuses the stream at its first event
    await assertStreamRefusedAtStart({ pg }, config, 'cl_share', 12, 30_001);
  });

  /**
   * Kills `node` with SIGKILL, waits for a leader of the stream (another one if `node` led it) and
   * for the first event stored after it was seen, then starts `node` again and waits until it is a
   * current replica of the stream once more.
   */
  async function killAndRestart(
    what: string,
    node: NatsClusterNode,
    service: ServiceProcess,
    stream = NAMES.stream,
  ): Promise<KillRecord> {
    const wasLeader = (await streamLeader(nc, stream)) === node.name;
    const roles = await nodeRoles(cluster, nc, stream, node, SERVICE_CLIENT_NAME);
    const fromLine = service.logs.length;
    await node.kill9();
    const killedAt = Date.now();
    const started = service.logs.findLast((line) => line.msg === 'replication started');
    try {
      const leader = await waitForStreamLeader(nc, stream, {
        ...(wasLeader ? { not: node.name } : {}),
        timeoutMs: 30_000,
      });
      const firstStoredAt = await waitFor(
        async () => {
          const message = await jsm.streams
            .getMessage(stream, { seq: leader.lastSeq + 1 })
            .catch(() => undefined);
          if (message) return message.time.getTime();
          // A key-value stream keeps the latest message of each key only: the first one after the
          // kill may be gone already, and a later sequence stands for it.
          const state = (await jsm.streams.info(stream).catch(() => undefined))?.state;
          return state && state.last_seq > leader.lastSeq + 1 ? Date.parse(state.last_ts) : undefined;
        },
        { what: `an event stored after ${what}`, timeoutMs: 60_000 },
      );
      return {
        what,
        node: node.name,
        roles,
        killedAt,
        sessionRanMs: started && killedAt - timeOf(started),
        leader: leader.name,
        leaderSeenAt: leader.seenAt,
        firstStoredAt,
        lines: service.logs.slice(fromLine).filter((line) => timeOf(line) <= firstStoredAt),
      };
    } finally {
      await node.start();
      await waitForStreamReplicas(nc, stream, 3, 30_000);
    }
  }
});

/** The figures of each kill, as diagnostics: they describe the run and are never asserted. */
function report(t: TestContext, kills: KillRecord[], transactions: number, events: number): void {
  t.diagnostic(`${transactions} transactions, ${events} events stored once each, in commit order`);
  for (const k of kills) {
    const retries = k.lines.filter((line) => line.msg === 'replication session failed, retrying');
    const started = k.lines.find((line) => line.msg === 'replication started');
    const askedAgain = k.lines.filter((line) => line.msg === 'jetstream does not answer: asking again');
    t.diagnostic(
      `${k.what}: ${k.node} killed (${k.roles.join(', ') || 'a follower'}) ` +
        `${k.sessionRanMs} ms after the service's session started; leader ${k.leader} seen after ${k.leaderSeenAt - k.killedAt} ms; ` +
        `first event stored ${k.firstStoredAt - k.leaderSeenAt} ms after the leader was seen ` +
        `(${k.firstStoredAt - k.killedAt} ms after the kill)` +
        (started ? `; "replication started" ${timeOf(started) - k.leaderSeenAt} ms after it` : '') +
        `; ${retries.length} session(s) failed meanwhile, ${askedAgain.length} "asking again"`,
    );
    for (const line of retries) {
      const err = line['err'] as { message?: string } | undefined;
      t.diagnostic(
        `  +${timeOf(line) - k.killedAt} ms (retry in ${String(line['retryInMs'])} ms): ${err?.message}`,
      );
    }
  }
}

/** When the service wrote a log line (pino's `time`, ms since the epoch). */
function timeOf(line: LogLine): number {
  return line['time'] as number;
}

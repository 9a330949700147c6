/**
 * Proves the cluster harness (three nats-server nodes on loopback, one JetStream cluster) and pins
 * what pgwalstreams relies on when its users replicate their streams: an R3 stream keeps every
 * acknowledged message, once and in order, when its leader is killed with SIGKILL and another
 * node takes over; a retry with the same Nats-Msg-Id after a failed publish stores nothing twice;
 * and `Nats-Expected-Last-Sequence` is enforced by the replicated stream as by a single server.
 *
 * It also pins a fault of nats-server 2.9.10 that pgwalstreams' `Nats-Expected-Last-Msg-Id` chain
 * meets (docs/RELIABILITY.md, "Replicas left behind"): a follower restarted after a kill -9 may no
 * longer store such messages, while its leader counts it current, and a stream it comes to lead has
 * lost them; the same chain made of `Nats-Expected-Last-Sequence` headers is stored by every
 * replica. When the first fails, the server no longer does so: update that section.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { connect, type NatsConnection, RequestError, TimeoutError } from '@nats-io/transport-node';
import { createStream, readStream } from './harness/jetstream.js';
import {
  type NatsCluster,
  startNatsCluster,
  streamLeader,
  waitForStreamLeader,
  waitForStreamReplicas,
} from './harness/nats-cluster.js';

/** JetStream's "wrong last sequence": a publish whose Nats-Expected-Last-Sequence does not hold. */
const WRONG_LAST_SEQUENCE = 10071;

describe('JetStream cluster on loopback', () => {
  let cluster: NatsCluster;
  let nc: NatsConnection;

  before(async () => {
    cluster = await startNatsCluster();
    nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  });

  after(async () => {
    await nc?.close().catch(() => undefined);
    await cluster?.dispose();
  });

  test('three named nodes with their own ports and stores, and a JetStream meta leader', async () => {
    assert.deepEqual(
      cluster.nodes.map((node) => node.name),
      ['n1', 'n2', 'n3'],
    );
    for (const key of ['port', 'clusterPort', 'monitorPort', 'storeDir'] as const) {
      assert.equal(new Set(cluster.nodes.map((node) => node[key])).size, 3, `every node has its own ${key}`);
    }
    assert.ok(!cluster.urls.includes('nats://127.0.0.1:4222'), 'not the machine’s default nats-server');
    assert.ok(['n1', 'n2', 'n3'].includes((await cluster.metaLeader()) ?? ''), 'a meta leader exists');

    // nodeOf names the node a client is connected to, as that node's INFO says; nodesWithClient
    // finds it by the client's name in the nodes' connz
    for (const node of cluster.nodes) {
      const one = await connect({ servers: node.url, reconnect: false, name: `harness-${node.name}` });
      try {
        assert.equal(cluster.nodeOf(one), node);
        assert.equal(cluster.nodeByName(node.name), node);
        assert.deepEqual(await cluster.nodesWithClient(`harness-${node.name}`), [node]);
      } finally {
        await one.close();
      }
    }
    assert.throws(() => cluster.nodeByName('n4'), /no node named n4/);
  });

  test('an R3 stream keeps 400 messages, in order and once, across a kill -9 of its leader', async (t) => {
    // GIVEN an R3 file stream on clu.>, created right after the cluster started, holding 200 messages
    await createStream(nc, 'CLU', ['clu.>'], { replicas: 3 });
    const js = jetstream(nc);
    for (let i = 1; i <= 200; i++) await publishItem(js, i);
    const leader = await streamLeader(nc, 'CLU');
    assert.ok(leader !== undefined, 'the stream has a leader');
    const replicas = await waitForStreamReplicas(nc, 'CLU', 3);
    assert.equal(replicas.state?.last_seq, 200);

    // WHEN its leader is killed with SIGKILL
    const killed = cluster.nodeByName(leader);
    const clientWasOn = cluster.nodeOf(nc)?.name;
    await killed.kill9();
    const killedAt = Date.now();

    try {
      // THEN, until another node leads, a publish gets no PubAck: "no responders" (a 503), once the
      // client's node knows the leader is gone; the first may get no reply at all, when the client
      // was on the killed node and is reconnecting, or its node has not noticed yet. (A new leader
      // is elected seconds later, not within these few tries.)
      const refusals: string[] = [];
      while (!refusals.includes('no responders')) {
        assert.ok(refusals.length < 3, `no "no responders" after ${refusals.join(', ')}`);
        refusals.push(await refusal(js.publish('clu.items', '201', { msgID: 'clu-201', timeout: 500 })));
      }

      // THEN another node becomes the leader
      const next = await waitForStreamLeader(nc, 'CLU', { not: leader });
      assert.notEqual(next.name, leader);
      t.diagnostic(
        `leader ${leader} killed (the test's client was on ${clientWasOn}); ${next.name} seen leading ` +
          `${next.seenAt - killedAt} ms later; publishes meanwhile: ${refusals.join(', ')}`,
      );

      // WHEN 200 more are published (201 again, with the id of the refused one) and the node restarts
      for (let i = 201; i <= 400; i++) await publishItem(js, i);
    } finally {
      // In `finally`, so that a failure above still leaves the next tests a whole cluster.
      await killed.start();
    }

    // THEN it rejoins as a current replica, and the stream holds 1..400 once each, in order
    const info = await waitForStreamReplicas(nc, 'CLU', 3);
    const members = [info.cluster?.leader, ...(info.cluster?.replicas ?? []).map((peer) => peer.name)];
    assert.ok(members.includes(killed.name), `${killed.name} is a member again`);
    const stored = await readStream(nc, 'CLU');
    assert.equal(stored.length, 400);
    assert.deepEqual(
      stored.map((m) => [m.seq, m.subject, m.msgId, m.raw]),
      Array.from({ length: 400 }, (_, k) => [k + 1, 'clu.items', `clu-${k + 1}`, String(k + 1)]),
    );
  });

  test('Nats-Expected-Last-Sequence is enforced on an R3 stream', async () => {
    // GIVEN an R3 stream holding one message
    await cluster.waitForMeta();
    await createStream(nc, 'CLU_SEQ', ['cluseq.>'], { replicas: 3 });
    const js = jetstream(nc);
    assert.equal((await js.publish('cluseq.a', 'one')).seq, 1);

    // WHEN a publish expects a last sequence the stream does not have, THEN it is rejected (10071)
    await assert.rejects(
      js.publish('cluseq.a', 'wrong', { expect: { lastSequence: 5 } }),
      (error: unknown) => error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE,
    );
    await assert.rejects(
      js.publish('cluseq.a', 'stale', { expect: { lastSequence: 0 } }),
      (error: unknown) => error instanceof JetStreamApiError && error.code === WRONG_LAST_SEQUENCE,
    );

    // WHEN it expects the right one, THEN it is stored next, and the rejected ones are not stored
    const ack = await js.publish('cluseq.a', 'two', { expect: { lastSequence: 1 } });
    assert.equal(ack.seq, 2);
    assert.deepEqual(
      (await readStream(nc, 'CLU_SEQ')).map((m) => m.raw),
      ['one', 'two'],
    );
  });

  test('a paused follower: the other two go on, and it catches up once resumed', async () => {
    // GIVEN an R3 stream, one of its followers, and a client on another node
    await cluster.waitForMeta();
    await createStream(nc, 'CLU_PAUSE', ['clupause.>'], { replicas: 3 });
    const leader = await streamLeader(nc, 'CLU_PAUSE');
    const follower = cluster.nodes.find((node) => node.name !== leader && node.running);
    assert.ok(follower, 'a running follower');
    const others = cluster.nodes.filter((node) => node !== follower).map((node) => node.url);
    const client = await connect({ servers: others, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    try {
      // WHEN the follower is frozen with SIGSTOP
      follower.pause();
      assert.equal(follower.paused, true);
      assert.equal(follower.running, true);

      // THEN it answers no client, yet the stream's leader and the other follower store publishes
      await assert.rejects(connect({ servers: follower.url, reconnect: false, timeout: 500 }));
      const js = jetstream(client);
      for (let i = 1; i <= 50; i++) assert.equal((await js.publish('clupause.a', String(i))).seq, i);

      // WHEN it is resumed, THEN it is a current replica of all 50 again
      follower.resume();
      assert.equal(follower.paused, false);
      const info = await waitForStreamReplicas(client, 'CLU_PAUSE', 3);
      assert.equal(info.state?.last_seq, 50);
      assert.ok(info.cluster?.replicas?.some((peer) => peer.name === follower.name && peer.current));
    } finally {
      follower.resume();
      await client.close();
    }
  });

  /**
   * An R3 stream `name` with a 100 ms duplicate window; 50 messages chained `by` id or sequence
   * through a client on the stream's leader; a follower killed with SIGKILL, 50 more, the follower
   * started again (its last message now older than the window) until its leader counts it current,
   * 50 more. Returns the follower, the leader, the other follower and each one's last sequence.
   */
  async function chainAcrossFollowerKill(name: string, by: 'msg-id' | 'sequence') {
    await cluster.waitForMeta();
    const subject = `${name.toLowerCase()}.a`;
    await createStream(nc, name, [`${name.toLowerCase()}.>`], { replicas: 3, duplicateWindowMs: 100 });
    await waitForStreamReplicas(nc, name, 3);
    const leader = (await waitForStreamLeader(nc, name)).name;
    const follower = cluster.nodes.find((node) => node.name !== leader)!;
    const other = cluster.nodes.find((node) => node.name !== leader && node !== follower)!;
    const client = await connect({ servers: cluster.nodeByName(leader).url });
    try {
      const js = jetstream(client);
      await publishChain(js, subject, 1, 50, by);
      await follower.kill9();
      await publishChain(js, subject, 51, 100, by);
      await follower.start();
      const info = await waitForStreamReplicas(client, name, 3);
      assert.ok(info.cluster?.replicas?.some((peer) => peer.name === follower.name && peer.current));
      await publishChain(js, subject, 101, 150, by);
    } finally {
      await client.close();
    }
    await delay(1000);
    const states = await cluster.replicaStates(name);
    const lastSeq = (node: string) => states.get(node)?.last_seq;
    return { follower, leader, other, lastSeq };
  }

  test('a chain by Nats-Expected-Last-Sequence: a follower back from kill -9 stores every message again', async () => {
    // GIVEN/WHEN 150 messages, each expecting the sequence before it, across a follower's kill -9
    const { follower, leader, other, lastSeq } = await chainAcrossFollowerKill('CLU_SEQCHAIN', 'sequence');

    // THEN every replica holds all 150
    assert.deepEqual([lastSeq(leader), lastSeq(other.name), lastSeq(follower.name)], [150, 150, 150]);
  });
});

/**
 * Publishes messages `from`…`to` to `subject`, one after the other, each with the Nats-Msg-Id
 * `m-<i>` and expecting the one before it: by its id (`Nats-Expected-Last-Msg-Id`, how pgwalstreams
 * chains its events; the first expects sequence 0) or by its sequence, `i - 1`
 * (`Nats-Expected-Last-Sequence`).
 */
async function publishChain(
  js: JetStreamClient,
  subject: string,
  from: number,
  to: number,
  by: 'msg-id' | 'sequence' = 'msg-id',
): Promise<void> {
  for (let i = from; i <= to; i++) {
    const expect = i === 1 || by === 'sequence' ? { lastSequence: i - 1 } : { lastMsgID: `m-${i - 1}` };
    const ack = await js.publish(subject, String(i), { msgID: `m-${i}`, expect, timeout: 2000 });
    assert.equal(ack.seq, i, `message ${i} stored as sequence ${i}`);
  }
}

/**
 * Publishes item `i` (body and subject fixed, Nats-Msg-Id `clu-<i>`) as the service would: on no
 * reply or "no responders" it publishes the same message again, so a retry of a message that was
 * stored after all is a duplicate. Asserts that the stream gave it sequence `i`.
 */
async function publishItem(js: JetStreamClient, i: number): Promise<void> {
  const ack = await js.publish('clu.items', String(i), { msgID: `clu-${i}`, timeout: 2000, retries: 10 });
  assert.equal(ack.seq, i, `item ${i} stored as sequence ${i}`);
}

/** What a publish that must fail got instead of a PubAck: no reply, or "no responders" (status 503). */
async function refusal(publish: Promise<unknown>): Promise<string> {
  try {
    await publish;
  } catch (error) {
    if (error instanceof TimeoutError) return 'no reply';
    // @nats-io/jetstream reports the 503 a publish gets as JetStreamNotEnabled ("jetstream is not
    // enabled"), caused by the request's no-responders error
    const cause = error instanceof Error ? error.cause : undefined;
    if (cause instanceof RequestError && cause.isNoResponders()) return 'no responders';
    throw error;
  }
  assert.fail('a publish got a PubAck while the stream had no leader');
}

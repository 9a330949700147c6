/**
 * The cluster faults of a cluster pass (`NatsClusterFaults` of faults.ts), made on the harness's
 * 3-node cluster: kill -9 of the stream's leader, of a follower, or of the node pgwalstreams is
 * connected to (the one whose connz lists a client named `pgwalstreams`).
 *
 * A fault ends once the stream has a leader again: at once when the node killed did not lead it,
 * after the election (4–7 s with nats-server 2.9.10) when it did. Recovery time is measured from
 * there, so it is what pgwalstreams adds to the election. The node stays down meanwhile, for 1–3 s
 * at least, and `heal` starts it again and waits until it is a current replica of the stream, so
 * that the next fault finds three nodes (two of them can always elect a leader).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  nodeRoles,
  streamLeader,
  waitForClientNode,
  waitForStreamLeader,
  waitForStreamReplicas,
  type NatsCluster,
  type NatsClusterNode,
} from '../integration/harness/nats-cluster.js';
import { SERVICE_CLIENT_NAME } from '../integration/harness/service.js';
import type { FaultOutcome, NatsClusterFaults } from './faults.js';
import type { Random } from './random.js';

/** How long a killed node stays down at least, ms. */
const DOWN_MS: readonly [number, number] = [1000, 3000];
/** How long an election or a rejoin may take before the pass is declared broken. */
const CLUSTER_TIMEOUT_MS = 60_000;

export class ClusterFaults implements NatsClusterFaults {
  constructor(
    private readonly cluster: NatsCluster,
    /** The pass's own client, given every node. */
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly rng: Random,
  ) {}

  async killLeader(): Promise<FaultOutcome> {
    const leader = await waitForStreamLeader(this.nc, this.stream, { timeoutMs: CLUSTER_TIMEOUT_MS });
    return this.kill(this.cluster.nodeByName(leader.name));
  }

  async killFollower(): Promise<FaultOutcome> {
    const leader = await waitForStreamLeader(this.nc, this.stream, { timeoutMs: CLUSTER_TIMEOUT_MS });
    const serviceNodes = await this.cluster.nodesWithClient(SERVICE_CLIENT_NAME);
    const followers = this.cluster.nodes.filter((node) => node.name !== leader.name);
    // A follower pgwalstreams is not connected to, when there is one: that kill is connected-node-kill.
    return this.kill(followers.find((node) => !serviceNodes.includes(node)) ?? followers[0]!);
  }

  async killConnected(): Promise<FaultOutcome> {
    return this.kill(await waitForClientNode(this.cluster, SERVICE_CLIENT_NAME, CLUSTER_TIMEOUT_MS));
  }

  /** Kills `node`; resolves once the stream has a leader, with a `heal` that brings the node back. */
  private async kill(node: NatsClusterNode): Promise<FaultOutcome> {
    const roles = await nodeRoles(this.cluster, this.nc, this.stream, node, SERVICE_CLIENT_NAME);
    const led = (await streamLeader(this.nc, this.stream)) === node.name;
    const downMs = this.rng.int(...DOWN_MS);
    await node.kill9();
    const killedAt = Date.now();
    const leader = await waitForStreamLeader(this.nc, this.stream, {
      ...(led ? { not: node.name } : {}),
      timeoutMs: CLUSTER_TIMEOUT_MS,
    });
    const what = `killed ${node.name} (${roles.join(', ') || 'a follower'})`;
    return {
      detail: led ? `${what}; ${leader.name} leads after ${leader.seenAt - killedAt} ms` : what,
      heal: async () => {
        await sleep(Math.max(0, killedAt + downMs - Date.now()));
        const startedAt = Date.now();
        await node.start();
        await waitForStreamReplicas(this.nc, this.stream, 3, CLUSTER_TIMEOUT_MS);
        return (
          `${node.name} started again ${startedAt - killedAt} ms after the kill, ` +
          `a current replica ${Date.now() - startedAt} ms later`
        );
      },
    };
  }
}

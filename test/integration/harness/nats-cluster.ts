/**
 * A throwaway JetStream cluster for integration tests: by default three nats-server processes on
 * 127.0.0.1 named n1, n2 and n3, each with its own client port, route port, monitoring port and
 * temp dir (store, log, configuration file), all in one cluster and each routed to the others.
 *
 * Each node is a {@link NatsServer} like the single server of nats.ts (the same process handling):
 * `stop()`, `kill9()` and `pause()` keep its ports and store, and `start()` brings it back into the
 * cluster. Tests find the node to crash by name: the stream leader ({@link streamLeader}), a
 * follower, or the node a client is connected to ({@link NatsCluster.nodeOf}).
 *
 * A node counts as started when it accepts clients, JetStream answers through it, and it knows a
 * JetStream meta leader. A meta leader needs a majority of the nodes, so nodes of a cluster that
 * lost its majority must be started together (`Promise.all`), not one after the other.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  findNatsServer,
  HOST,
  jetStreamAnswers,
  NatsProcess,
  type NatsServer,
  retryOnPortClash,
} from './nats.js';
import { freePort, waitFor } from './wait.js';

/** How to start the cluster; everything has a default that suits the integration tests. */
export interface NatsClusterOptions {
  /** Path of the nats-server binary; found automatically when omitted. */
  binary?: string;
  /** Number of nodes; default 3. */
  size?: number;
  /** The cluster's name (`cluster { name }`); default `pgwalstreams`. */
  name?: string;
  /** Text added to every node's configuration file, e.g. `max_payload: 2MB`. */
  config?: string;
  /** How long a node may take to get ready after a start, and the cluster to form; default 15 000 ms. */
  startTimeoutMs?: number;
}

/** One node of the cluster. */
export interface NatsClusterNode extends NatsServer {
  /** Its `server_name` (n1, n2, …): what stream and meta leaders are reported as. */
  readonly name: string;
  /** The port other nodes route to (`cluster { listen }`). */
  readonly clusterPort: number;
  /** The HTTP monitoring port (`/jsz`, `/routez`, `/healthz`, …). */
  readonly monitorPort: number;
  /** The node's nats-server configuration file. */
  readonly configFile: string;
}

/** A running cluster and the means to find its nodes and remove it. */
export interface NatsCluster {
  /** The cluster's name. */
  readonly name: string;
  readonly nodes: readonly NatsClusterNode[];
  /** Every node's client URL, for a client's `servers` list. */
  readonly urls: string[];
  /** The node named `name` (a `server_name`); throws if there is none. */
  nodeByName(name: string): NatsClusterNode;
  /** The node a client is connected to (from the server INFO it got), or undefined while it is not connected. */
  nodeOf(nc: NatsConnection): NatsClusterNode | undefined;
  /**
   * The running, unpaused nodes whose `/connz` lists a client connection named `clientName` (the
   * `name` a client gives when it connects; pgwalstreams' is `pgwalstreams`): how a test finds the
   * node another process is connected to. Usually one; none while that client is reconnecting.
   */
  nodesWithClient(clientName: string): Promise<NatsClusterNode[]>;
  /**
   * What each node's own replica of a stream holds (`/jsz`), by node name: undefined for a node that
   * is down, paused or holds no replica. A replica's `last_seq` below its leader's is one that has
   * not stored everything the leader did (yet, or at all).
   */
  replicaStates(stream: string): Promise<Map<string, ReplicaState | undefined>>;
  /**
   * The JetStream meta leader's name, as the leader itself confirms it, or undefined when there is
   * none (or none of the running nodes answers).
   */
  metaLeader(): Promise<string | undefined>;
  /**
   * Waits until a meta leader exists and has every running, unpaused node as a current peer;
   * resolves with its name. `start` waits for this once; call it after restarting nodes when a
   * test needs the whole cluster back (creating an R3 stream does).
   */
  waitForMeta(timeoutMs?: number): Promise<string>;
  /** Stops every node and deletes their temp dirs. */
  dispose(): Promise<void>;
}

/** Starts a new cluster; the caller must `dispose()` it. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const binary = options.binary ?? findNatsServer();
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 1) throw new Error(`a cluster needs at least one node, not ${size}`);
  const startTimeoutMs = options.startTimeoutMs ?? 15_000;
  const nodes: ClusterNode[] = [];
  try {
    for (let i = 1; i <= size; i++) {
      nodes.push(
        new ClusterNode(
          `n${i}`,
          await mkdtemp(join(tmpdir(), `pgwalstreams-nats-n${i}-`)),
          binary,
          startTimeoutMs,
        ),
      );
    }
    const cluster = new Cluster(options.name ?? 'pgwalstreams', nodes);
    await retryOnPortClash(async () => {
      const taken = new Set<number>();
      for (const node of nodes) await node.pickPorts(taken);
      await Promise.all(
        nodes.map((node) => writeFile(node.configFile, cluster.configOf(node, options.config))),
      );
      const starts = nodes.map((node) => node.start());
      try {
        await Promise.all(starts);
        await cluster.waitForMeta(startTimeoutMs);
      } catch (error) {
        await Promise.all(nodes.map((node) => node.kill9()));
        await Promise.allSettled(starts);
        throw error;
      }
    }, nodes);
    return cluster;
  } catch (error) {
    await Promise.all(nodes.map((node) => node.dispose().catch(() => undefined)));
    throw error;
  }
}

/** One node's replica of a stream: what it holds, from the node's own `/jsz`. */
export interface ReplicaState {
  messages: number;
  last_seq: number;
}

/** What `/jsz` of a node says about the meta group (the parts the harness reads). */
interface MetaCluster {
  leader?: string;
  cluster_size?: number;
  replicas?: { name: string; current: boolean; offline?: boolean }[];
}

class ClusterNode extends NatsProcess implements NatsClusterNode {
  clusterPort = 0;
  monitorPort = 0;
  readonly configFile: string;

  constructor(
    readonly name: string,
    root: string,
    binary: string,
    startTimeoutMs: number,
  ) {
    super(binary, root, startTimeoutMs);
    this.configFile = join(root, 'nats-server.conf');
  }

  protected args(): string[] {
    return ['-c', this.configFile];
  }

  /** New client, route and monitoring ports, none of them in `taken` (to which they are added). */
  async pickPorts(taken: Set<number>): Promise<void> {
    const pick = async (): Promise<number> => {
      let port;
      do port = await freePort();
      while (taken.has(port));
      taken.add(port);
      return port;
    };
    this.port = await pick();
    this.clusterPort = await pick();
    this.monitorPort = await pick();
  }

  /** Accepts clients, JetStream answers through it, and it knows a meta leader. */
  protected async ready(): Promise<true | undefined> {
    if (!(await jetStreamAnswers(this.url))) return undefined;
    return (await this.meta())?.leader !== undefined ? true : undefined;
  }

  /** The node's view of the meta group, from its monitoring port; undefined if it does not answer. */
  async meta(): Promise<MetaCluster | undefined> {
    return (await this.monitor<{ meta_cluster?: MetaCluster }>('jsz'))?.meta_cluster;
  }

  /** The names of the client connections open on the node (`/connz`); undefined if it does not answer. */
  async clientNames(): Promise<string[] | undefined> {
    const connz = await this.monitor<{ connections?: { name?: string }[] }>('connz');
    return connz && (connz.connections ?? []).map((c) => c.name ?? '');
  }

  /** What the node's replica of `stream` holds; undefined when it has none or does not answer. */
  async replicaState(stream: string): Promise<ReplicaState | undefined> {
    const jsz = await this.monitor<{
      account_details?: { stream_detail?: { name: string; state: ReplicaState }[] }[];
    }>('jsz?accounts=true&streams=true');
    const detail = (jsz?.account_details ?? [])
      .flatMap((account) => account.stream_detail ?? [])
      .find((candidate) => candidate.name === stream);
    return detail && { messages: detail.state.messages, last_seq: detail.state.last_seq };
  }

  /** A monitoring endpoint's JSON; undefined when the node is down, paused or does not answer. */
  private async monitor<T>(endpoint: string): Promise<T | undefined> {
    if (!this.running || this.paused) return undefined;
    try {
      const response = await fetch(`http://${HOST}:${this.monitorPort}/${endpoint}`, {
        signal: AbortSignal.timeout(1000),
      });
      if (!response.ok) return undefined;
      return (await response.json()) as T;
    } catch {
      return undefined;
    }
  }
}

class Cluster implements NatsCluster {
  constructor(
    readonly name: string,
    readonly nodes: readonly ClusterNode[],
  ) {}

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  /** A node's configuration file: its ports, store and name, the cluster, routes to the other nodes. */
  configOf(node: ClusterNode, extra = ''): string {
    const routes = this.nodes
      .filter((other) => other !== node)
      .map((other) => JSON.stringify(`nats-route://${HOST}:${other.clusterPort}`));
    return [
      `server_name: ${node.name}`,
      `listen: ${JSON.stringify(`${HOST}:${node.port}`)}`,
      `http: ${JSON.stringify(`${HOST}:${node.monitorPort}`)}`,
      `jetstream {`,
      `  store_dir: ${JSON.stringify(node.storeDir)}`,
      `  max_mem: 64MB`,
      `  max_file: 1GB`,
      `}`,
      `cluster {`,
      `  name: ${JSON.stringify(this.name)}`,
      `  listen: ${JSON.stringify(`${HOST}:${node.clusterPort}`)}`,
      `  routes: [${routes.join(', ')}]`,
      `}`,
      extra,
      '',
    ].join('\n');
  }

  nodeByName(name: string): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.name === name);
    if (!node) throw new Error(`no node named ${name} in cluster ${this.name}`);
    return node;
  }

  nodeOf(nc: NatsConnection): ClusterNode | undefined {
    const name = nc.isClosed() ? undefined : nc.info?.server_name;
    return name === undefined ? undefined : this.nodes.find((node) => node.name === name);
  }

  async nodesWithClient(clientName: string): Promise<ClusterNode[]> {
    const names = await Promise.all(this.nodes.map((node) => node.clientNames()));
    return this.nodes.filter((_node, i) => names[i]?.includes(clientName));
  }

  async replicaStates(stream: string): Promise<Map<string, ReplicaState | undefined>> {
    const states = await Promise.all(this.nodes.map((node) => node.replicaState(stream)));
    return new Map(this.nodes.map((node, i) => [node.name, states[i]]));
  }

  async metaLeader(): Promise<string | undefined> {
    return (await this.confirmedMeta())?.leader;
  }

  async waitForMeta(timeoutMs = 15_000): Promise<string> {
    return waitFor(
      async () => {
        const meta = await this.confirmedMeta();
        if (meta?.leader === undefined) return undefined;
        const current = new Set(
          (meta.replicas ?? []).filter((peer) => peer.current).map((peer) => peer.name),
        );
        current.add(meta.leader);
        const live = this.nodes.filter((node) => node.running && !node.paused);
        return live.every((node) => current.has(node.name)) ? meta.leader : undefined;
      },
      {
        what: `a JetStream meta leader with every running node of cluster ${this.name}`,
        timeoutMs,
        intervalMs: 50,
      },
    );
  }

  /** The meta group as its leader reports it: a follower's idea of who leads may be out of date. */
  private async confirmedMeta(): Promise<(MetaCluster & { leader: string }) | undefined> {
    for (const node of this.nodes) {
      const named = (await node.meta())?.leader;
      if (named === undefined) continue;
      const leader = this.nodes.find((candidate) => candidate.name === named);
      const meta = await leader?.meta();
      if (meta?.leader === named) return { ...meta, leader: named };
    }
    return undefined;
  }

  async dispose(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((node) => node.dispose()));
    const failed = results.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

/** What `$JS.API.STREAM.INFO.<stream>` answers (the parts the harness reads). */
export interface StreamClusterInfo {
  /** The JetStream API error, e.g. code 503 / err_code 10008 while a stream has no leader. */
  error?: { code: number; err_code?: number; description?: string };
  cluster?: {
    name?: string;
    leader?: string;
    replicas?: { name: string; current: boolean; offline?: boolean; lag?: number }[];
  };
  state?: { messages: number; first_seq: number; last_seq: number };
}

/**
 * Asks for a stream's info with a plain request (no JetStream manager: its API check would fail
 * too while there is no leader); undefined when nobody answers in time.
 */
export async function streamClusterInfo(
  nc: NatsConnection,
  stream: string,
  timeoutMs = 1000,
): Promise<StreamClusterInfo | undefined> {
  try {
    const reply = await nc.request(`$JS.API.STREAM.INFO.${stream}`, undefined, { timeout: timeoutMs });
    return reply.json<StreamClusterInfo>();
  } catch {
    return undefined; // timeout, no responders, or the client is reconnecting
  }
}

/** JetStream's "stream not found". */
const STREAM_NOT_FOUND = 10059;

/**
 * The server_name of the stream's leader (`cluster.leader` of its info), or undefined while it has
 * none or no leader answers. Throws when JetStream says the stream does not exist.
 */
export async function streamLeader(nc: NatsConnection, stream: string): Promise<string | undefined> {
  return leaderIn(await streamClusterInfo(nc, stream), stream);
}

/** The leader a stream info answer names (undefined for none or an error); throws for "not found". */
function leaderIn(info: StreamClusterInfo | undefined, stream: string): string | undefined {
  if (info?.error?.err_code === STREAM_NOT_FOUND) throw new Error(`stream ${stream} not found`);
  return info?.error === undefined ? info?.cluster?.leader : undefined;
}

/** Waits until exactly one node lists a client named `clientName` (see `nodesWithClient`), and returns it. */
export async function waitForClientNode(
  cluster: NatsCluster,
  clientName: string,
  timeoutMs = 20_000,
): Promise<NatsClusterNode> {
  return waitFor(
    async () => {
      const nodes = await cluster.nodesWithClient(clientName);
      return nodes.length === 1 ? nodes[0] : undefined;
    },
    { what: `the one node client ${clientName} is connected to`, timeoutMs },
  );
}

/**
 * What `node` is to `stream` and the cluster right now, in words: `stream leader`, `meta leader`,
 * and `<clientName>'s node` when a client of that name is connected to it; empty for a plain
 * follower. For reports of which node a test killed.
 */
export async function nodeRoles(
  cluster: NatsCluster,
  nc: NatsConnection,
  stream: string,
  node: NatsClusterNode,
  clientName: string,
): Promise<string[]> {
  const [leader, meta, withClient] = await Promise.all([
    streamLeader(nc, stream),
    cluster.metaLeader(),
    cluster.nodesWithClient(clientName),
  ]);
  return [
    ...(leader === node.name ? ['stream leader'] : []),
    ...(meta === node.name ? ['meta leader'] : []),
    ...(withClient.includes(node) ? [`${clientName}'s node`] : []),
  ];
}

/**
 * A stream leader and when {@link waitForStreamLeader} first saw it (`Date.now()`), with the
 * stream's last sequence in the same answer: a message of a later sequence was stored after the
 * leader was seen (give or take the answer's trip).
 */
export interface StreamLeader {
  name: string;
  seenAt: number;
  lastSeq: number;
}

/**
 * How long {@link waitForStreamLeader} waits for each answer: while there is no leader a request
 * gets none, and a short wait makes `seenAt` come within about 0.3 s of the leader's first answer.
 */
const LEADER_POLL_TIMEOUT_MS = 250;

/**
 * Waits until the stream has a leader (other than `not`, e.g. the node just killed) and resolves
 * with its name, the time it was first seen and the stream's last sequence then.
 */
export async function waitForStreamLeader(
  nc: NatsConnection,
  stream: string,
  options: { not?: string; timeoutMs?: number } = {},
): Promise<StreamLeader> {
  const { not, timeoutMs = 20_000 } = options;
  return waitFor(
    async () => {
      const info = await streamClusterInfo(nc, stream, LEADER_POLL_TIMEOUT_MS);
      const name = leaderIn(info, stream);
      return name !== undefined && name !== not
        ? { name, seenAt: Date.now(), lastSeq: info?.state?.last_seq ?? 0 }
        : undefined;
    },
    {
      what: `a leader of stream ${stream}${not === undefined ? '' : ` other than ${not}`}`,
      timeoutMs,
      intervalMs: 50,
    },
  );
}

/**
 * Waits until the stream has a leader and `replicas - 1` followers that are all current (caught up
 * with the leader), e.g. after a restarted node rejoined; resolves with the stream's info.
 */
export async function waitForStreamReplicas(
  nc: NatsConnection,
  stream: string,
  replicas: number,
  timeoutMs = 20_000,
): Promise<StreamClusterInfo> {
  return waitFor(
    async () => {
      const info = await streamClusterInfo(nc, stream);
      if (info?.error?.err_code === STREAM_NOT_FOUND) throw new Error(`stream ${stream} not found`);
      if (info?.error !== undefined || info?.cluster?.leader === undefined) return undefined;
      const followers = info.cluster.replicas ?? [];
      const caughtUp = followers.filter((peer) => peer.current && !peer.offline);
      return followers.length === replicas - 1 && caughtUp.length === followers.length ? info : undefined;
    },
    {
      what: `stream ${stream} with a leader and ${replicas - 1} current followers`,
      timeoutMs,
      intervalMs: 50,
    },
  );
}

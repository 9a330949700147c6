/**
 * The faults a chaos run injects, one at a time. Each is made with the real thing: signals to the
 * real processes, the harness's restarts, the TCP proxy's cuts. `inject` returns when the fault is
 * over (the process started again, the server back, the proxy accepting), which is where
 * recovery time starts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Environment } from './environment.js';
import type { Random } from './random.js';
import type { Workload } from './workload.js';
import { waitFor } from '../integration/harness/wait.js';

/** The faults of a single nats-server. */
export const SINGLE_NODE_FAULTS = [
  'service-kill9',
  'service-sigterm',
  'nats-kill9',
  'nats-sigstop',
  'pg-restart',
  'pg-cut',
  'nats-cut',
] as const;

/** The faults of a 3-node NATS cluster; they need a {@link NatsClusterFaults}. */
export const CLUSTER_FAULTS = [
  'cluster-leader-kill',
  'cluster-follower-kill',
  'cluster-connected-kill',
] as const;

export type FaultKind = (typeof SINGLE_NODE_FAULTS)[number] | (typeof CLUSTER_FAULTS)[number];

/**
 * What a 3-node NATS cluster has to offer for the cluster faults: the hook for
 * test/integration/harness/nats-cluster.ts, which is being built separately. Each method kills one
 * node with SIGKILL, starts it again on its store, and resolves once it is back in the cluster.
 * A run with a cluster passes one to {@link inject} and adds {@link CLUSTER_FAULTS} to its kinds.
 */
export interface NatsClusterFaults {
  /** The node that leads the stream's raft group. */
  killLeader(stream: string): Promise<string>;
  /** A node that holds a replica of the stream and does not lead it. */
  killFollower(stream: string): Promise<string>;
  /** The node pgwalstreams is connected to (its client then reconnects to another). */
  killConnected(): Promise<string>;
}

/** One injected fault. */
export interface Fault {
  n: number;
  kind: FaultKind;
  /** When it began and ended (ms since the epoch). */
  startedAt: number;
  endedAt: number;
  /** What was done, in words (a pid, how long a server was away). */
  detail: string;
}

/** What the faults act on. */
export interface FaultTargets {
  env: Environment;
  workload: Workload;
  /** pgwalstreams' ack timeout: a SIGSTOP lasts longer. */
  ackTimeoutMs: number;
  rng: Random;
  cluster?: NatsClusterFaults;
}

/** Injects one fault of `kind` and returns when it is over. */
export async function inject(n: number, kind: FaultKind, targets: FaultTargets): Promise<Fault> {
  const startedAt = Date.now();
  const detail = await FAULTS[kind](targets);
  return { n, kind, startedAt, endedAt: Date.now(), detail };
}

type FaultAction = (targets: FaultTargets) => Promise<string>;

const FAULTS: Record<FaultKind, FaultAction> = {
  'service-kill9': ({ env }) => restartService(env, 'SIGKILL'),
  'service-sigterm': ({ env }) => restartService(env, 'SIGTERM'),
  async 'nats-kill9'({ env }) {
    const { nats } = env.servers;
    const pid = nats.pid;
    const began = Date.now();
    await nats.kill9();
    await nats.start();
    return `killed pid ${pid}; JetStream answered again after ${Date.now() - began} ms`;
  },
  async 'nats-sigstop'({ env, ackTimeoutMs, rng }) {
    const pid = env.servers.nats.pid;
    if (pid === undefined) throw new Error('nats-server is not running');
    const stoppedMs = ackTimeoutMs + rng.int(1000, 2000);
    process.kill(pid, 'SIGSTOP');
    try {
      await sleep(stoppedMs);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    return `stopped pid ${pid} for ${stoppedMs} ms`;
  },
  async 'pg-restart'({ env, workload }) {
    // A COMMIT under way when the server goes: its outcome is lost, and the ledger must tell.
    const doubt = workload.doubter.commitInDoubt();
    const waiting = await waitFor(() => commitWaiting(env), {
      what: 'a COMMIT waiting',
      timeoutMs: 10_000,
    }).catch(() => false);
    const began = Date.now();
    await env.servers.pg.restart();
    const took = Date.now() - began;
    const found = await doubt;
    const outcome = waiting
      ? `a COMMIT under way ${found ? 'was found committed' : 'was not committed'}`
      : 'no COMMIT was under way';
    return `pg_ctl restart -m fast took ${took} ms; ${outcome}`;
  },
  'pg-cut': ({ env, rng }) => cut(env.pgProxy, rng),
  'nats-cut': ({ env, rng }) => cut(env.natsProxy, rng),
  'cluster-leader-kill': ({ env, cluster }) => needCluster(cluster).killLeader(env.names.stream),
  'cluster-follower-kill': ({ env, cluster }) => needCluster(cluster).killFollower(env.names.stream),
  'cluster-connected-kill': ({ cluster }) => needCluster(cluster).killConnected(),
};

async function restartService(env: Environment, signal: 'SIGKILL' | 'SIGTERM'): Promise<string> {
  const pid = env.service.process.pid;
  const exit = await env.service.signal(signal);
  env.service.start();
  return `${signal} to pid ${pid}, exit ${exit.signal ?? `code ${exit.code}`}; started again`;
}

/** Cuts every connection of the proxy and refuses new ones for 0–2 s. */
async function cut(proxy: Environment['pgProxy'], rng: Random): Promise<string> {
  const refuseMs = rng.int(0, 2000);
  proxy.refuse();
  const cutCount = proxy.cut();
  try {
    await sleep(refuseMs);
  } finally {
    proxy.accept();
  }
  return `cut ${cutCount} connection(s), refused new ones for ${refuseMs} ms`;
}

/** True while a backend waits in COMMIT for the standby (`Writer.commitInDoubt`). */
async function commitWaiting(env: Environment): Promise<boolean> {
  const rows = await env.sql
    .query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep'")
    .catch(() => [{ n: '0' }]);
  return Number(rows[0]?.n) > 0;
}

function needCluster(cluster: NatsClusterFaults | undefined): NatsClusterFaults {
  if (!cluster)
    throw new Error('a cluster fault needs a NATS cluster (test/integration/harness/nats-cluster.ts)');
  return cluster;
}

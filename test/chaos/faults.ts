/**
 * The faults a chaos run injects, one at a time. Each is made with the real thing: signals to the
 * real processes, the harness's restarts, the TCP proxy's cuts. `inject` returns when the fault is
 * over (the process started again, the server back, the proxy accepting, the stream led again),
 * which is where recovery time starts. A cluster fault leaves its node down until `heal` is called,
 * once recovery was measured: the other two nodes carry the stream meanwhile.
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

/** The faults of a 3-node NATS cluster (a cluster pass); they need a {@link NatsClusterFaults}. */
export const CLUSTER_FAULTS = ['leader-kill', 'follower-kill', 'connected-node-kill'] as const;

export type FaultKind = (typeof SINGLE_NODE_FAULTS)[number] | (typeof CLUSTER_FAULTS)[number];

/** What a fault did, in words, and for one that leaves a node down, how to bring it back. */
export interface FaultOutcome {
  detail: string;
  /** Starts again what the fault left down; resolves, with what it did, once all is whole again. */
  heal?: () => Promise<string>;
}

/**
 * What a 3-node NATS cluster offers the cluster faults (`cluster-faults.ts`). Each kills one node
 * with SIGKILL and resolves once the stream has a leader again (at once when the node did not lead
 * it); the node stays down until `heal`, which starts it again on its store and resolves once it
 * is a current replica of the stream again.
 */
export interface NatsClusterFaults {
  /** The node that leads the stream's raft group. */
  killLeader(): Promise<FaultOutcome>;
  /** A node that holds a replica of the stream and does not lead it (nor, when it can be helped, has pgwalstreams' connection). */
  killFollower(): Promise<FaultOutcome>;
  /** The node pgwalstreams is connected to (its client then reconnects to another). */
  killConnected(): Promise<FaultOutcome>;
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

/** A fault just injected, with what is to be healed once its recovery was measured. */
export interface InjectedFault extends Fault {
  heal?: () => Promise<string>;
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
export async function inject(n: number, kind: FaultKind, targets: FaultTargets): Promise<InjectedFault> {
  const startedAt = Date.now();
  const done = await FAULTS[kind](targets);
  const { detail, heal } = typeof done === 'string' ? { detail: done, heal: undefined } : done;
  return { n, kind, startedAt, endedAt: Date.now(), detail, ...(heal ? { heal } : {}) };
}

type FaultAction = (targets: FaultTargets) => Promise<string | FaultOutcome>;

const FAULTS: Record<FaultKind, FaultAction> = {
  'service-kill9': ({ env }) => restartService(env, 'SIGKILL'),
  'service-sigterm': ({ env }) => restartService(env, 'SIGTERM'),
  async 'nats-kill9'({ env }) {
    const nats = needSingle(env).server;
    const pid = nats.pid;
    const began = Date.now();
    await nats.kill9();
    await nats.start();
    return `killed pid ${pid}; JetStream answered again after ${Date.now() - began} ms`;
  },
  async 'nats-sigstop'({ env, ackTimeoutMs, rng }) {
    const pid = needSingle(env).server.pid;
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
    await env.pg.restart();
    const took = Date.now() - began;
    const found = await doubt;
    const outcome = waiting
      ? `a COMMIT under way ${found ? 'was found committed' : 'was not committed'}`
      : 'no COMMIT was under way';
    return `pg_ctl restart -m fast took ${took} ms; ${outcome}`;
  },
  'pg-cut': ({ env, rng }) => cut(env.pgProxy, rng),
  'nats-cut': ({ env, rng }) => cut(needSingle(env).proxy, rng),
  'leader-kill': ({ cluster }) => needCluster(cluster).killLeader(),
  'follower-kill': ({ cluster }) => needCluster(cluster).killFollower(),
  'connected-node-kill': ({ cluster }) => needCluster(cluster).killConnected(),
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
  if (!cluster) throw new Error('a cluster fault needs a cluster pass (a 3-node NATS cluster)');
  return cluster;
}

function needSingle(env: Environment): NonNullable<Environment['single']> {
  if (!env.single) throw new Error('this fault needs a single-server pass (one nats-server behind a proxy)');
  return env.single;
}

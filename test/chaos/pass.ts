/**
 * One pass of the chaos suite: fresh servers (one nats-server, or a 3-node cluster), the writers,
 * faults one at a time for the pass's duration (and until every kind ran once), then the writers
 * stop, pgwalstreams catches up, and the whole stream is checked against the ledger and the
 * tables; in a cluster pass, also what each node's replica holds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { streamCount } from '../integration/harness/jetstream.js';
import { streamClusterInfo } from '../integration/harness/nats-cluster.js';
import { waitFor } from '../integration/harness/wait.js';
import { StreamChecker, type CheckResult } from './check.js';
import { ClusterFaults } from './cluster-faults.js';
import { startEnvironment, type Environment } from './environment.js';
import { inject, type Fault, type FaultKind, type NatsClusterFaults } from './faults.js';
import { Ledger } from './ledger.js';
import { Random } from './random.js';
import { TableRebuild, type RebuildResult } from './rebuild.js';
import { Prober, type Recovery } from './recovery.js';
import type { ServiceFailure } from './supervisor.js';
import { readWholeStream } from './stream.js';
import { Workload, type WorkloadShape } from './workload.js';

export interface PassOptions {
  label: string;
  /** Seconds of faults (the loop also goes on until every kind ran once). */
  durationS: number;
  duplicateWindowMs: number;
  ackTimeoutMs: number;
  seed: number;
  kinds: readonly FaultKind[];
  shape: WorkloadShape;
  /** Against a 3-node JetStream cluster with an R3 stream, instead of one nats-server. */
  cluster: boolean;
}

/** One node's replica of the stream at the end of a cluster pass. */
export interface ReplicaEnd {
  node: string;
  leader: boolean;
  /** Its last sequence; undefined when the node did not answer. */
  lastSeq: number | undefined;
}

export interface FaultRecord extends Fault {
  recovery: Recovery;
}

export interface PassResult {
  options: PassOptions;
  /** Seconds the fault loop ran. */
  faultSeconds: number;
  /** Probes with no fault before them, one before each fault: what recovery times compare with. */
  baselines: Recovery[];
  faults: FaultRecord[];
  ledger: Ledger;
  /** The final probe after the writers stopped: confirmed means pgwalstreams caught up. */
  fence: Recovery;
  check: CheckResult;
  rebuild: RebuildResult;
  serviceFailures: ServiceFailure[];
  /** A cluster pass's replicas at the end, and the leader's last sequence; undefined for a single server. */
  replicas: { leaderLastSeq: number; nodes: ReplicaEnd[] } | undefined;
  /** Where the service logs of the pass are kept; undefined once removed. */
  logDir: string | undefined;
}

/** Pause between a fault's recovery and the next fault, ms. */
const PAUSE_MS: readonly [number, number] = [1000, 3000];
const WARM_UP_MS = 3000;
const RECOVERY_TIMEOUT_MS = 90_000;
const CATCH_UP_TIMEOUT_MS = 300_000;
/** How long replicas may take at the end to hold what their leader holds. */
const REPLICAS_TIMEOUT_MS = 15_000;

export async function runPass(options: PassOptions, progress: (line: string) => void): Promise<PassResult> {
  const rng = new Random(options.seed);
  const env = await startEnvironment(options);
  progress(`${options.label}: servers up, pgwalstreams replicating; logs in ${env.dir}`);
  try {
    const ledger = new Ledger();
    const workload = new Workload(env.pg.connectionString, ledger, rng.fork(), options.shape);
    const prober = new Prober(env, workload.prober);
    workload.start();
    await sleep(WARM_UP_MS);
    const began = Date.now();
    const baselines: Recovery[] = [];
    const faults = await faultLoop(env, workload, prober, baselines, options, rng, progress);
    const faultSeconds = (Date.now() - began) / 1000;
    await workload.finish();
    if (workload.failure) throw workload.failure;
    progress(`${options.label}: writers stopped; waiting for pgwalstreams to catch up`);
    const fence = await prober.measure(Date.now(), CATCH_UP_TIMEOUT_MS);
    await settled(env);
    await env.service.stop();
    const replicas = env.cluster ? await replicasAtEnd(env) : undefined;

    progress(`${options.label}: reading the stream`);
    const rebuild = new TableRebuild();
    const checker = new StreamChecker(ledger, env.names.prefix, faults, rebuild);
    const readBegan = Date.now();
    const read = await readWholeStream(env.nc, env.names.stream, (m) => checker.add(m));
    const check = checker.finish();
    const rebuilt = await rebuild.compare(env.pg.connectionString);
    progress(
      `${options.label}: checked ${read} messages in ${((Date.now() - readBegan) / 1000).toFixed(1)} s`,
    );
    return {
      options,
      faultSeconds,
      baselines,
      faults,
      ledger,
      fence,
      check,
      rebuild: rebuilt,
      serviceFailures: env.service.failures,
      replicas,
      logDir: env.dir,
    };
  } finally {
    await env.dispose();
  }
}

async function faultLoop(
  env: Environment,
  workload: Workload,
  prober: Prober,
  baselines: Recovery[],
  options: PassOptions,
  rng: Random,
  progress: (line: string) => void,
): Promise<FaultRecord[]> {
  const deadline = Date.now() + options.durationS * 1000;
  const cluster: NatsClusterFaults | undefined =
    env.cluster && new ClusterFaults(env.cluster, env.nc, env.names.stream, rng.fork());
  const ran = new Set<FaultKind>();
  const records: FaultRecord[] = [];
  let deck: FaultKind[] = [];
  while (Date.now() < deadline || options.kinds.some((kind) => !ran.has(kind))) {
    if (workload.failure) throw workload.failure;
    await sleep(rng.int(...PAUSE_MS));
    baselines.push(await prober.measure(Date.now(), RECOVERY_TIMEOUT_MS));
    // Every kind once, in a random order, before any kind comes again.
    if (deck.length === 0) deck = rng.shuffled(options.kinds);
    const kind = deck.shift()!;
    const { heal, ...fault } = await inject(records.length + 1, kind, {
      env,
      workload,
      ackTimeoutMs: options.ackTimeoutMs,
      rng,
      ...(cluster ? { cluster } : {}),
    });
    const recovery = await prober.measure(fault.endedAt, RECOVERY_TIMEOUT_MS);
    if (heal) fault.detail += `; ${await heal()}`;
    records.push({ ...fault, recovery });
    ran.add(kind);
    progress(
      `${options.label}: fault ${fault.n} ${kind} (${fault.detail}); stored after ${ms(recovery.storedMs)}, confirmed after ${ms(recovery.confirmedMs)}`,
    );
  }
  return records;
}

/** Waits until the stream's message count stops changing (two equal counts a second apart). */
async function settled(env: Environment): Promise<void> {
  let last = -1;
  await waitFor(
    async () => {
      const count = await streamCount(env.nc, env.names.stream).catch(() => -2);
      const same = count === last;
      last = count;
      return same && count >= 0;
    },
    { what: 'the stream to stop growing', timeoutMs: 60_000, intervalMs: 1000 },
  );
}

/**
 * What each node's replica holds once the stream is still, waiting a little for all of them to hold
 * the leader's last sequence: one that does not is behind for good (docs/RELIABILITY.md says how
 * nats-server 2.9.10 leaves a restarted follower so).
 */
async function replicasAtEnd(env: Environment): Promise<NonNullable<PassResult['replicas']>> {
  const cluster = env.cluster!;
  const read = async () => {
    const info = await streamClusterInfo(env.nc, env.names.stream);
    const states = await cluster.replicaStates(env.names.stream);
    return {
      leaderLastSeq: info?.state?.last_seq ?? -1,
      nodes: [...states].map(([node, state]) => ({
        node,
        leader: node === info?.cluster?.leader,
        lastSeq: state?.last_seq,
      })),
    };
  };
  const whole = await waitFor(
    async () => {
      const now = await read();
      return now.nodes.every((n) => n.lastSeq === now.leaderLastSeq) ? now : undefined;
    },
    { what: 'every replica to hold what its leader holds', timeoutMs: REPLICAS_TIMEOUT_MS, intervalMs: 500 },
  ).catch(() => undefined);
  return whole ?? read();
}

function ms(value: number | undefined): string {
  return value === undefined ? 'never (timed out)' : `${value} ms`;
}

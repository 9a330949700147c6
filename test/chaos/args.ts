/**
 * The command line of `npm run test:chaos`, turned into the passes to run.
 *
 * A single-server pass runs the single-server fault kinds against one nats-server; a cluster pass
 * runs the cluster kinds against a 3-node JetStream cluster with an R3 stream. Without
 * `--duration` it is the short form: a single-server pass of 30 s with a 100 ms duplicate window,
 * then a cluster pass of 15 s with the same window, each going on until every kind it has ran once.
 * With `--duration S` each pass lasts S seconds. `--duplicate-window-ms` replaces both defaults
 * with its windows (one pass of each kind per window); `--cluster` runs the cluster pass only,
 * `--single` the single-server passes only, and `--faults` keeps each pass to the kinds it names.
 */
import { parseArgs } from 'node:util';
import { CLUSTER_FAULTS, SINGLE_NODE_FAULTS, type FaultKind } from './faults.js';
import type { PassOptions } from './pass.js';
import { DEFAULT_SHAPE } from './workload.js';

export const USAGE = `usage: npm run test:chaos -- [options]
  --duration S              seconds of faults in each pass (default: the short form, 30 s single-server, 15 s cluster)
  --duplicate-window-ms N   the stream's duplicate window, ms; a comma list runs passes per window
                            (default 100, for a single server and the cluster)
  --faults a,b,...          fault kinds (default all; single server: ${SINGLE_NODE_FAULTS.join(', ')};
                            cluster: ${CLUSTER_FAULTS.join(', ')})
  --cluster                 only the cluster pass (a 3-node JetStream cluster, an R3 stream)
  --single                  only the single-server pass
  --writers N               writers (default ${DEFAULT_SHAPE.writers})
  --ack-timeout-ms N        pgwalstreams' nats.ackTimeout (default 2000)
  --seed N                  seed of the workload and fault choices (default: from the clock)`;

/** The short form's seconds of faults, per kind of pass. */
const SHORT_FORM_S = { single: 30, cluster: 15 } as const;

/**
 * The duplicate windows when none is given. A single-server pass takes 100 ms, so that
 * exactly-once cannot lean on the window. A cluster pass keeps nats-server's default of 2 minutes,
 * as a production cluster would: with a window shorter than a node's outage, nats-server 2.9.10
 * leaves every restarted follower behind (docs/RELIABILITY.md, "Replicas left behind"), and the
 * pass would show only that.
 */
const DEFAULT_WINDOW_MS = { single: 100, cluster: 100 } as const;

/** The passes the arguments ask for; throws with the usage on a bad argument. */
export function passesFromArgs(argv: string[]): PassOptions[] {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      'duplicate-window-ms': { type: 'string' },
      faults: { type: 'string' },
      cluster: { type: 'boolean' },
      single: { type: 'boolean' },
      writers: { type: 'string' },
      'ack-timeout-ms': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  if (values.cluster && values.single) throw new Error(`--cluster and --single exclude each other\n${USAGE}`);
  const windows = values['duplicate-window-ms']?.split(',').map((w) => whole('duplicate-window-ms', w));
  const asked: FaultKind[] =
    values.faults === undefined
      ? [...SINGLE_NODE_FAULTS, ...CLUSTER_FAULTS]
      : values.faults.split(',').map(faultKind);
  const kinds = {
    single: values.cluster ? [] : SINGLE_NODE_FAULTS.filter((k) => asked.includes(k)),
    cluster: values.single ? [] : CLUSTER_FAULTS.filter((k) => asked.includes(k)),
  };
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : whole('seed', values.seed);
  const ackTimeoutMs = whole('ack-timeout-ms', values['ack-timeout-ms'] ?? '2000');
  const shape = {
    ...DEFAULT_SHAPE,
    writers: whole('writers', values.writers ?? String(DEFAULT_SHAPE.writers)),
  };
  const duration = values.duration === undefined ? undefined : whole('duration', values.duration);
  const plan = (['single', 'cluster'] as const).flatMap((type) =>
    kinds[type].length === 0
      ? []
      : (windows ?? [DEFAULT_WINDOW_MS[type]]).map((duplicateWindowMs) => ({ type, duplicateWindowMs })),
  );
  if (plan.length === 0) throw new Error(`no pass has a fault kind to run\n${USAGE}`);
  return plan.map(({ type, duplicateWindowMs }, i) => ({
    label: `pass ${i + 1} (${type === 'cluster' ? '3-node cluster, R3 stream' : 'one nats-server'})`,
    durationS: duration ?? SHORT_FORM_S[type],
    duplicateWindowMs,
    ackTimeoutMs,
    seed: seed + i,
    kinds: kinds[type],
    shape,
    cluster: type === 'cluster',
  }));
}

function whole(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} ${text}: use a whole number\n${USAGE}`);
  return n;
}

function faultKind(text: string): FaultKind {
  const kind = [...SINGLE_NODE_FAULTS, ...CLUSTER_FAULTS].find((k) => k === text);
  if (!kind) throw new Error(`--faults: no fault kind ${JSON.stringify(text)}\n${USAGE}`);
  return kind;
}

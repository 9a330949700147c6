/**
 * The command line of `npm run test:chaos`, turned into the passes to run.
 *
 * Without `--duration` it is the short form: 60 s of faults with the given duplicate window
 * (default 120 000 ms), then 30 s with a 100 ms window, each going on until every fault kind ran
 * once. With `--duration S` it is one pass of S seconds per window given (default 120 000 ms).
 */
import { parseArgs } from 'node:util';
import { SINGLE_NODE_FAULTS, type FaultKind } from './faults.js';
import type { PassOptions } from './pass.js';
import { DEFAULT_SHAPE } from './workload.js';

export const USAGE = `usage: npm run test:chaos -- [options]
  --duration S              seconds of faults in one pass (default: the short form, 60 s + 30 s with a 100 ms window)
  --duplicate-window-ms N   the stream's duplicate window, ms; a comma list runs one pass per window (default 120000)
  --faults a,b,...          fault kinds (default all: ${SINGLE_NODE_FAULTS.join(', ')})
  --writers N               writers (default ${DEFAULT_SHAPE.writers})
  --ack-timeout-ms N        pgwalstreams' nats.ackTimeout (default 2000)
  --seed N                  seed of the workload and fault choices (default: from the clock)`;

const SHORT_FORM: readonly { durationS: number; duplicateWindowMs?: number }[] = [
  { durationS: 60 },
  { durationS: 30, duplicateWindowMs: 100 },
];

/** The passes the arguments ask for; throws with the usage on a bad argument. */
export function passesFromArgs(argv: string[]): PassOptions[] {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      'duplicate-window-ms': { type: 'string' },
      faults: { type: 'string' },
      writers: { type: 'string' },
      'ack-timeout-ms': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const windows = (values['duplicate-window-ms'] ?? '120000')
    .split(',')
    .map((w) => whole('duplicate-window-ms', w));
  const kinds =
    values.faults === undefined ? [...SINGLE_NODE_FAULTS] : values.faults.split(',').map(faultKind);
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : whole('seed', values.seed);
  const ackTimeoutMs = whole('ack-timeout-ms', values['ack-timeout-ms'] ?? '2000');
  const shape = {
    ...DEFAULT_SHAPE,
    writers: whole('writers', values.writers ?? String(DEFAULT_SHAPE.writers)),
  };
  const plan =
    values.duration === undefined
      ? values['duplicate-window-ms'] === undefined
        ? SHORT_FORM
        : windows.map((duplicateWindowMs) => ({ durationS: 60, duplicateWindowMs }))
      : windows.map((duplicateWindowMs) => ({
          durationS: whole('duration', values.duration!),
          duplicateWindowMs,
        }));
  return plan.map((pass, i) => {
    const duplicateWindowMs = pass.duplicateWindowMs ?? windows[0]!;
    return {
      label: `pass ${i + 1}`,
      durationS: pass.durationS,
      duplicateWindowMs,
      ackTimeoutMs,
      seed: seed + i,
      kinds,
      shape,
    };
  });
}

function whole(name: string, text: string): number {
  const n = Number(text.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} ${text}: use a whole number\n${USAGE}`);
  return n;
}

function faultKind(text: string): FaultKind {
  const kind = SINGLE_NODE_FAULTS.find((k) => k === text);
  if (!kind) throw new Error(`--faults: no fault kind ${JSON.stringify(text)}\n${USAGE}`);
  return kind;
}

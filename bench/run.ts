/**
 * `npm run bench`: starts its own PostgreSQL and nats-server (as the integration tests do),
 * measures the ceilings, pgwalstreams end to end, latency, memory and the naive way in one run,
 * prints the figures with their targets, and writes them as JSON to `bench-results/`.
 *
 * Targets are printed with a mark; the bench exits non-zero only when it could not measure.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { wholeNumber } from './args.js';
import { BARE, rawPublish, SERVICE_DEFAULT, type CeilingShape } from './ceilings.js';
import { latency } from './latency.js';
import { describeMachine } from './machine.js';
import { memory } from './memory.js';
import { naivePublish } from './naive.js';
import {
  ceilingDrift,
  cpuTable,
  fixed,
  figuresTable,
  machineLine,
  noisyPhases,
  stolenPhases,
  targets,
  type Results,
} from './report.js';
import { PG_SETTINGS, startBenchServers } from './servers.js';
import { snapshot } from './snapshot.js';
import { startup } from './startup.js';
import { throughput, type ThroughputResult } from './throughput.js';
import { ChangeSet, sampleEvents } from './workload.js';

/** The JetStream window of the ceiling (the service's default `nats.maxInFlight`). */
const WINDOW = 4096;
/** Messages of the unmeasured publish before the first ceiling. */
const WARM_UP_MESSAGES = 20_000;
/** Events the ceilings cycle through (the size of the large set's first transaction). */
const SAMPLE_EVENTS = 10_000;
/** Single-row transactions per second in the latency phase. */
const LATENCY_RATE = 1000;

const USAGE = `usage: npm run bench -- [--quick] [--changes N] [--latency-seconds S] [--memory-rows N] [--snapshot-rows N] [--naive-messages N]

  --quick              a short run: 100 000 changes, 5 s of latency, a 200 000-row transaction and table
  --changes N          changes per throughput set (default 500 000)
  --latency-seconds S  seconds measured at ${LATENCY_RATE} tx/s (default 30)
  --memory-rows N      rows of the one transaction of the memory phase (default 1 000 000)
  --snapshot-rows N    rows of the table of the initial snapshot phase (default 1 000 000)
  --naive-messages N   events published the naive way (default changes / 10, at most 20 000)`;

interface Options {
  quick: boolean;
  changes: number;
  latencySeconds: number;
  memoryRows: number;
  snapshotRows: number;
  naiveMessages: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      changes: { type: 'string' },
      'latency-seconds': { type: 'string' },
      'memory-rows': { type: 'string' },
      'snapshot-rows': { type: 'string' },
      'naive-messages': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (name: string, text: string | undefined, fallback: number): number =>
    wholeNumber(name, text, fallback, USAGE);
  const quick = values.quick;
  const changes = whole('changes', values.changes, quick ? 100_000 : 500_000);
  return {
    quick,
    changes,
    latencySeconds: whole('latency-seconds', values['latency-seconds'], quick ? 5 : 30),
    memoryRows: whole('memory-rows', values['memory-rows'], quick ? 200_000 : 1_000_000),
    snapshotRows: whole('snapshot-rows', values['snapshot-rows'], quick ? 200_000 : 1_000_000),
    naiveMessages: whole(
      'naive-messages',
      values['naive-messages'],
      Math.max(1000, Math.min(20_000, Math.floor(changes / 10))),
    ),
  };
}

const progress = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

/** Average body size of the sampled events. */
const averageBytes = (sample: readonly { data: Uint8Array }[]): number =>
  sample.reduce((a, m) => a + m.data.length, 0) / Math.max(1, sample.length);

async function main(): Promise<void> {
  const started = performance.now();
  const startedAt = new Date();
  const options = parseOptions(process.argv.slice(2));
  const mode = options.quick ? 'quick' : 'full';
  progress(
    `pgwalstreams bench (${mode}): ${options.changes.toLocaleString('en-US')} changes per set, ` +
      `latency ${options.latencySeconds} s at ${LATENCY_RATE} tx/s, ` +
      `memory ${options.memoryRows.toLocaleString('en-US')} rows, snapshot ${options.snapshotRows.toLocaleString('en-US')} rows, naive ${options.naiveMessages.toLocaleString('en-US')} msgs`,
  );
  const loadBefore = loadavg();
  const s = await startBenchServers();
  try {
    const machine = describeMachine(s.pgVersion, s.natsVersion);
    progress(machineLine(machine));
    if (!s.recvlogical) progress('pg_recvlogical is not installed: the slot drain ceiling is skipped');

    // The ceilings first, on the fresh servers, with events shaped like the large set's.
    const sample = sampleEvents(
      'bench_large',
      SAMPLE_EVENTS,
      new ChangeSet('bench_large', options.changes).seed,
    );
    const ceiling = (shape: CeilingShape, label: string) =>
      rawPublish(s, { sample, n: options.changes, window: WINDOW, shape, label });
    // A short unmeasured publish first, into a stream deleted after it, so that the first ceiling
    // does not pay for the fresh server's warm-up (the last one would not).
    progress('JetStream warm-up: 20 000 messages, not measured');
    await rawPublish(s, { sample, n: WARM_UP_MESSAGES, window: WINDOW, shape: BARE, label: 'raw_warmup' });
    progress('JetStream ceiling: raw pipelined publish, one Nats-Msg-Id header');
    const bare = await ceiling(BARE, 'raw_bare');
    progress('JetStream ceiling: raw pipelined publish, as pgwalstreams publishes');
    const exact = await ceiling(SERVICE_DEFAULT, 'raw_headers');
    progress('throughput, large transactions');
    const large = await throughput(s, 'large', options.changes, progress);
    progress('throughput, small transactions');
    const small = await throughput(s, 'small', options.changes, progress);
    progress('naive: awaited js.publish()');
    const naive = await naivePublish(s, small.sample, options.naiveMessages);
    progress(`latency: ${options.latencySeconds} s at ${LATENCY_RATE} tx/s`);
    const lat = await latency(s, LATENCY_RATE, options.latencySeconds);
    progress(`memory: one ${options.memoryRows.toLocaleString('en-US')}-row transaction`);
    const mem = await memory(s, options.memoryRows);
    progress(`snapshot: initial snapshot of a ${options.snapshotRows.toLocaleString('en-US')}-row table`);
    const snap = await snapshot(s, options.snapshotRows, progress);
    progress('start-up: --version, --help, config check, and spawn → first event stored, 5 times each');
    const start = await startup(s);
    progress('JetStream ceiling again, one Nats-Msg-Id header, after every other phase');
    const bareAgain = await ceiling(BARE, 'raw_again');

    const strip = ({ sample: _sample, ...rest }: ThroughputResult): Omit<ThroughputResult, 'sample'> => rest;
    const results: Results = {
      large: strip(large),
      small: strip(small),
      ceilings: {
        n: options.changes,
        window: WINDOW,
        payloadBytes: averageBytes(sample),
        storedPayloadBytes: averageBytes(large.sample),
        bare,
        headers: exact,
        bareAgain,
      },
      naive: { ...naive, n: options.naiveMessages },
      latency: lat,
      memory: mem,
      snapshot: snap,
      startup: start,
    };
    const ts = targets(results);
    const wallSeconds = (performance.now() - started) / 1000;
    const loadAfter = loadavg();
    const load = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
    const out = [
      '',
      `pgwalstreams bench, ${mode} mode: node dist/bench/run.js ${process.argv.slice(2).join(' ')}`.trimEnd(),
      machineLine(machine),
      `PostgreSQL: harness settings (wal_level=logical, fsync=off) + ${Object.entries(PG_SETTINGS)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}; autovacuum off on the bench tables`,
      '',
      figuresTable(results, ts),
      '',
      'CPU seconds per process (utime+stime from /proc) in each timed phase:',
      cpuTable(results),
      '',
      notes(results),
      '',
      `wall time of the bench: ${wallSeconds.toFixed(1)} s; load average before ${load(loadBefore)}, after ${load(loadAfter)}`,
    ].join('\n');
    console.log(out);

    const dir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(
      file,
      JSON.stringify(
        {
          startedAt,
          mode,
          options,
          machine,
          pgSettings: PG_SETTINGS,
          results,
          targets: ts,
          wallSeconds,
          loadAverage: { before: loadBefore, after: loadAfter },
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`results: bench-results/${file.slice(dir.length)}`);
  } finally {
    await s.dispose();
  }
}

/** What the figures mean, printed under them. */
function notes(r: Results): string {
  const l = r.latency;
  const noisy = noisyPhases(r);
  const drift = ceilingDrift(r);
  const stolen = stolenPhases(r);
  return [
    ...(noisy.length > 0
      ? [
          `WARNING: other work kept the machine busy during: ${noisy.join(', ')}; those figures are not reliable.`,
        ]
      : []),
    ...(Math.abs(drift) > 0.1
      ? [
          `WARNING: the bare JetStream ceiling was ${fixed(Math.abs(drift) * 100, 0)} % ${drift < 0 ? 'lower' : 'higher'} at the end of the run than at its start;`,
          '  the machine did not give the same speed all along, and the ratios are not reliable.',
        ]
      : []),
    ...(stolen.length > 0
      ? [
          `WARNING: the hypervisor took CPU time from this virtual machine (steal) during: ${stolen.join(', ')};`,
          '  those phases ran slower, and with longer latencies, than the machine gives with its cores to itself.',
        ]
      : []),
    'notes:',
    '- the JetStream ceiling and pgwalstreams end to end are both timed from the first message their stream',
    "  stored to the last, by nats-server's timestamps: connecting, creating the stream and a process starting",
    '  are left out on both sides. pgwalstreams drains a backlog (slot at the position before the changes).',
    '  "from spawn" is timed from the spawn of pgwalstreams until the stream holds every change (polled every',
    `  25 ms near the end); startup until the walsender appeared took ${r.large.startupSeconds.toFixed(2)} s (large) and ${r.small.startupSeconds.toFixed(2)} s (small).`,
    '  "first publish → last PubAck" is the ceiling timed by its publisher; the naive way is timed the same way.',
    '- latency is commit → delivery of the event to a core NATS subscriber on the stream subjects, which is',
    '  well under a millisecond from the PubAck on loopback (the subscriber gets the same publish the stream',
    '  stores). commitTime (µs) and the receive time are on the same system clock, read in µs (monotonic',
    `  clock drift ${l.clockDriftMs.toFixed(3)} ms over the phase, corrected). The first second of inserts is a warm-up.`,
    '- the service histogram truncates the commit time to the millisecond, so it reads up to 1 ms high;',
    '  its buckets are 0.5, 1, 2.5, 5, 10 ms.',
    '- the JetStream ceilings are measured first, on the fresh servers (after 20 000 unmeasured messages into',
    '  a stream deleted after them, so the first does not pay for the warm-up), and the bare one after every',
    '  other phase again; they publish 10 000 events shaped like the first transaction of the large set, cycling,',
    '  with a unique Nats-Msg-Id and a PubAck per message (bare), or as pgwalstreams sends to a stream of one',
    '  replica (Nats-Msg-Id, Pgwalstreams-Slot, Nats-Expected-Last-Msg-Id, a PubAck per 128 messages); the',
    '  naive way publishes the stored small set.',
    '- µs CPU/row is the CPU of the processes listed per row (or message) handled: unlike rows/s, it',
    '  changes little when other work shares the machine.',
    '- "other s" is the machine\'s busy CPU time (/proc/stat) beyond the processes listed: PostgreSQL\'s',
    '  other backends, the kernel, and anything else running on the machine; a large figure means a noisy run.',
    '- "steal s" is CPU time the hypervisor gave to other virtual machines while this one had work to run',
    '  (/proc/stat steal); it is not in "cores busy".',
    '- the initial snapshot is timed over the time its stream took to fill (first event stored to the end',
    '  marker); COPY is timed from the query to its last byte. The snapshot reads the table with one COPY in',
    '  primary-key order and publishes each row as an event to JetStream, so it cannot be faster than the',
    '  JetStream ceiling; both ratios are printed.',
    `- streams held ${r.large.streamMessages.toLocaleString('en-US')} (large) and ${r.small.streamMessages.toLocaleString('en-US')} (small) messages for ${r.large.changes.toLocaleString('en-US')} changes each.`,
  ].join('\n');
}

main().catch((error: unknown) => {
  console.error('bench failed:', error);
  process.exitCode = 1;
});

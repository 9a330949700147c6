/**
 * The printed result: one table of figures with their targets (a mark, never an exit status),
 * one table of where the CPU went in each timed phase, and notes on what each figure means.
 */
import type { Timed } from './ceilings.js';
import type { LatencyResult } from './latency.js';
import type { Machine } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { SnapshotResult } from './snapshot.js';
import type { StartupResult } from './startup.js';
import type { ThroughputResult } from './throughput.js';

/** Everything one run measured. */
export interface Results {
  large: Omit<ThroughputResult, 'sample'>;
  small: Omit<ThroughputResult, 'sample'>;
  /**
   * The JetStream ceilings, `n` messages of ~`payloadBytes` bytes each: bare (one `Nats-Msg-Id`) and
   * as pgwalstreams publishes (SERVICE_DEFAULT) before any other phase, bare again after all of them.
   */
  ceilings: {
    n: number;
    window: number;
    payloadBytes: number;
    /** Average size of the events the service stored in the large set, for comparison. */
    storedPayloadBytes: number;
    bare: Timed;
    headers: Timed;
    bareAgain: Timed;
  };
  naive: Timed & { n: number };
  latency: LatencyResult;
  memory: MemoryResult;
  snapshot: SnapshotResult;
  startup: StartupResult;
}

/** One target and whether the run met it. */
export interface Target {
  name: string;
  figure: number;
  limit: number;
  pass: boolean;
}

const MB = 1e6;

/** Messages (or rows) per second of a timed run. */
export function rate(n: number, t: Timed): number {
  return n / t.seconds;
}

/**
 * Messages (or rows) per second over the time the run's stream took to fill, first message stored
 * to last: what the ceiling and pgwalstreams are compared on. The timed rate for a run without one.
 */
export function storedRate(n: number, t: Timed): number {
  return n / (t.storedSeconds ?? t.seconds);
}

/** The targets of the issue, evaluated. */
/** The bare ceiling at the end of the run relative to its start, minus one (−0.2: 20 % lower). */
export function ceilingDrift(r: Results): number {
  const c = r.ceilings;
  return storedRate(c.n, c.bareAgain) / storedRate(c.n, c.bare) - 1;
}

/** µs of one process's CPU per row of a timed run of `n` rows. */
const microsPerRow = (process: string, n: number, t: Timed): number => ((t.cpu[process] ?? NaN) / n) * 1e6;

export function targets(r: Results): Target[] {
  // pgwalstreams and the bare ceiling measured first, both over the time their stream took to fill;
  // against the naive way, the rate from the spawn (the naive publisher's time includes no startup).
  const js = storedRate(r.ceilings.n, r.ceilings.bare);
  const large = storedRate(r.large.changes, r.large.endToEnd);
  const small = storedRate(r.small.changes, r.small.endToEnd);
  const naive = rate(r.naive.n, r.naive);
  const t = (name: string, figure: number, limit: number, atMost = false): Target => ({
    name,
    figure,
    limit,
    pass: atMost ? figure <= limit : figure >= limit,
  });
  return [
    t('end to end, large tx ÷ bare JetStream ceiling', large / js, 0.75),
    t('end to end, small tx ÷ bare JetStream ceiling', small / js, 0.75),
    t('end to end, small tx ÷ naive', rate(r.small.changes, r.small.endToEnd) / naive, 10),
    t('latency p99 (ms)', r.latency.p99, 3, true),
    t('peak RSS (MB)', r.memory.peakBytes / MB, 120, true),
    t(
      'initial snapshot ÷ COPY ceiling',
      snapshotRate(r.snapshot) / rate(r.snapshot.rows, r.snapshot.copy),
      0.5,
    ),
    t('--version (ms)', r.startup.version.seconds * 1000, 150, true),
    t('--help (ms)', r.startup.help.seconds * 1000, 150, true),
    t('config check (ms)', r.startup.configCheck.seconds * 1000, 400, true),
    t('spawn → first event stored (ms)', r.startup.firstEvent.seconds * 1000, 300, true),
    t('CPU until the first event stored (s)', r.startup.firstEvent.cpuSeconds, 0.15, true),
    t(
      'snapshot RSS, second half ÷ first half',
      r.snapshot.rssSecondHalfBytes / r.snapshot.rssFirstHalfBytes,
      1.1,
      true,
    ),
  ];
}

/** Rows per second of the initial snapshot, over the time its stream took to fill. */
const snapshotRate = (r: SnapshotResult): number => storedRate(r.rows, r.snapshot);

const int = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
export const fixed = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const mark = (t: Target | undefined): string => (t ? (t.pass ? 'PASS' : 'FAIL') : '');

/** Lays out rows under headers; numbers-looking columns are right-aligned by `right`. */
export function formatTable(headers: string[], rows: string[][], right: boolean[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The figures table. */
export function figuresTable(r: Results, ts: Target[]): string {
  const c = r.ceilings;
  const js = storedRate(c.n, c.bare);
  const withHeaders = storedRate(c.n, c.headers);
  const naive = rate(r.naive.n, r.naive);
  const rows: string[][] = [];
  const drainRate = (t: Omit<ThroughputResult, 'sample'>): number =>
    t.drain ? rate(t.changes, t.drain) : NaN;
  for (const set of [r.large, r.small]) {
    rows.push([
      '1',
      `ceiling: slot drain, pg_recvlogical → /dev/null, ${set.set} tx`,
      set.drain ? `${int(drainRate(set))} rows/s` : 'not installed',
      '',
      '',
      '',
    ]);
  }
  rows.push([
    '1',
    `ceiling: JetStream raw publish, window ${c.window}, file store, one Nats-Msg-Id (first)`,
    `${int(js)} msgs/s`,
    `${int(c.payloadBytes)}-byte events (stored ones ${int(c.storedPayloadBytes)}); ` +
      `${int(rate(c.n, c.bare))} msgs/s first publish → last PubAck`,
    '',
    '',
  ]);
  rows.push([
    '1',
    'ceiling: as pgwalstreams publishes, headers and a PubAck per batch (first)',
    `${int(withHeaders)} msgs/s`,
    `${fixed(withHeaders / js, 2)} × bare; nats-server ${fixed(microsPerRow('nats-server', c.n, c.headers), 1)} µs CPU/msg ` +
      `(bare ${fixed(microsPerRow('nats-server', c.n, c.bare), 1)})`,
    '',
    '',
  ]);
  rows.push([
    '1',
    'ceiling: one Nats-Msg-Id again, after every other phase',
    `${int(storedRate(c.n, c.bareAgain))} msgs/s`,
    `${fixed(ceilingDrift(r) * 100, 1)} % from the first`,
    'within ±10 %',
    Math.abs(ceilingDrift(r)) <= 0.1 ? 'PASS' : 'FAIL',
  ]);
  const e2e = (set: Omit<ThroughputResult, 'sample'>, label: string, target: Target | undefined): void => {
    const v = storedRate(set.changes, set.endToEnd);
    const fromSpawn = rate(set.changes, set.endToEnd);
    // pg_recvlogical is timed from its spawn too.
    const vsDrain = set.drain ? `, ${fixed(fromSpawn / drainRate(set), 2)} × drain` : '';
    rows.push([
      '2',
      `end to end, ${label}`,
      `${int(v)} rows/s`,
      `${fixed(v / js, 2)} × bare, ${fixed(v / withHeaders, 2)} × as pgwalstreams publishes; ${int(fromSpawn)} rows/s from spawn${vsDrain}; ` +
        `µs CPU/row: pgwalstreams ${fixed(microsPerRow('pgwalstreams', set.changes, set.endToEnd), 1)}, ` +
        `nats-server ${fixed(microsPerRow('nats-server', set.changes, set.endToEnd), 1)}, ` +
        `walsender ${fixed(microsPerRow('walsender', set.changes, set.endToEnd), 1)}`,
      `≥ ${target?.limit ?? ''} × bare`,
      mark(target),
    ]);
  };
  e2e(r.large, `large tx (${int(r.large.changes / r.large.transactions)} rows each)`, ts[0]);
  e2e(r.small, `small tx (1–10 rows, ${r.small.transactions.toLocaleString('en-US')} tx)`, ts[1]);
  rows.push([
    '5',
    'naive: one awaited js.publish() at a time',
    `${int(naive)} msgs/s`,
    `end to end small tx = ${fixed(ts[2]?.figure ?? NaN, 1)} × naive`,
    '≥ 10 × naive',
    mark(ts[2]),
  ]);
  const l = r.latency;
  rows.push([
    '3',
    `latency commit → subscriber, ${int(l.rate)} tx/s, p50 / p99 / max`,
    `${fixed(l.p50, 2)} / ${fixed(l.p99, 2)} / ${fixed(l.max, 1)} ms`,
    `${int(l.samples)} tx, ${int(l.achievedRate)} tx/s achieved`,
    'p99 ≤ 3 ms',
    mark(ts[3]),
  ]);
  rows.push([
    '3',
    'service histogram commit → PubAck, p50 / p99',
    `${fixed(l.service.p50, 2)} / ${fixed(l.service.p99, 2)} ms`,
    `bucket estimate; p99 bucket ≤ ${fixed(l.service.p99Bound, 1)} ms`,
    '',
    '',
  ]);
  const m = r.memory;
  rows.push([
    '4',
    `peak RSS, one ${int(m.rows)}-row transaction`,
    `${fixed(m.peakBytes / MB, 1)} MB`,
    `baseline ${fixed(m.baselineBytes / MB, 1)} MB; ${int(m.rows / m.streamSeconds)} rows/s after commit`,
    '≤ 120 MB',
    mark(ts[4]),
  ]);
  const sn = r.snapshot;
  rows.push([
    '6',
    `ceiling: COPY (SELECT *) TO STDOUT, ${int(sn.rows)} rows`,
    `${int(rate(sn.rows, sn.copy))} rows/s`,
    `${fixed(sn.copy.bytes / MB, 0)} MB of text in ${fixed(sn.copy.seconds, 2)} s, faster of two`,
    '',
    '',
  ]);
  rows.push([
    '6',
    `initial snapshot, ${int(sn.rows)} rows`,
    `${int(snapshotRate(sn))} rows/s`,
    `${fixed(snapshotRate(sn) / rate(sn.rows, sn.copy), 2)} × COPY; ${fixed(snapshotRate(sn) / js, 2)} × JetStream; ` +
      `${int(rate(sn.rows, sn.snapshot))} rows/s from spawn`,
    '≥ 0.5 × COPY',
    mark(ts[5]),
  ]);
  rows.push([
    '6',
    'snapshot RSS, highest in first half / second half',
    `${fixed(sn.rssFirstHalfBytes / MB, 1)} / ${fixed(sn.rssSecondHalfBytes / MB, 1)} MB`,
    `peak ${fixed(sn.peakBytes / MB, 1)} MB; ${int(sn.streamMessages)} messages stored`,
    '≤ 1.1 × first half',
    mark(ts[11]),
  ]);
  const st = r.startup;
  const startRow = (
    what: string,
    f: { seconds: number; cpuSeconds: number },
    limit: string,
    target: Target | undefined,
  ) =>
    rows.push([
      '7',
      what,
      `${fixed(f.seconds * 1000, 0)} ms`,
      `${fixed(f.cpuSeconds, 3)} s CPU; median of 5`,
      limit,
      mark(target),
    ]);
  startRow('pgwalstreams --version', st.version, '< 150 ms', ts[6]);
  startRow('pgwalstreams --help', st.help, '< 150 ms', ts[7]);
  startRow('pgwalstreams config check', st.configCheck, '< 400 ms', ts[8]);
  startRow('service: spawn → first event stored', st.firstEvent, '< 300 ms; CPU < 0.15 s', ts[9]);
  rows.push([
    '7',
    'service: CPU until the first event stored',
    `${fixed(st.firstEvent.cpuSeconds, 3)} s`,
    '',
    '< 0.15 s',
    mark(ts[10]),
  ]);
  return formatTable(['#', 'measure', 'value', 'compared', 'target', ''], rows, [false, false, true]);
}

/** The timed phases with their CPU figures and the number of rows (or messages) each handled. */
function timedPhases(r: Results): [string, Timed, number][] {
  const l = r.latency;
  const phases: [string, Timed | undefined, number][] = [
    ['slot drain, large tx (pg_recvlogical)', r.large.drain, r.large.changes],
    ['slot drain, small tx (pg_recvlogical)', r.small.drain, r.small.changes],
    ['JetStream raw publish, bare (first)', r.ceilings.bare, r.ceilings.n],
    ['JetStream raw publish, as pgwalstreams', r.ceilings.headers, r.ceilings.n],
    ['end to end, large tx', r.large.endToEnd, r.large.changes],
    ['end to end, small tx', r.small.endToEnd, r.small.changes],
    ['naive js.publish()', r.naive, r.naive.n],
    [
      `latency (${l.seconds} s at ${l.rate} tx/s)`,
      { seconds: l.cpuWallSeconds, cpu: l.cpu, machineCpu: l.machineCpu },
      Math.round((l.seconds + 1) * l.rate),
    ],
    ['COPY of the snapshot table', r.snapshot.copy, r.snapshot.rows],
    ['initial snapshot', r.snapshot.snapshot, r.snapshot.rows],
    ['JetStream raw publish, bare (again)', r.ceilings.bareAgain, r.ceilings.n],
  ];
  return phases.filter((p): p is [string, Timed, number] => p[1] !== undefined);
}

/** CPU seconds of the machine beyond the processes watched. */
const otherCpu = (t: Timed): number =>
  Math.max(0, t.machineCpu.busy - Object.values(t.cpu).reduce((a, b) => a + b, 0));

/**
 * The phases during which something else kept more than `cores` of the machine busy (another
 * program, or PostgreSQL work the bench did not start): their figures are not to be trusted.
 */
export function noisyPhases(r: Results, cores = 0.35): string[] {
  return timedPhases(r)
    .filter(([, t]) => otherCpu(t) / t.seconds > cores)
    .map(([name, t]) => `${name} (${fixed(otherCpu(t) / t.seconds, 2)} cores)`);
}

/**
 * The phases during which the hypervisor took more than `cores` of CPU time from this virtual
 * machine (steal): the processes were ready to run and did not, so those figures are slower, and
 * latencies longer, than the machine gives when it has its cores to itself.
 */
export function stolenPhases(r: Results, cores = 0.1): string[] {
  return timedPhases(r)
    .filter(([, t]) => t.machineCpu.steal / t.seconds > cores)
    .map(([name, t]) => `${name} (${fixed(t.machineCpu.steal / t.seconds, 2)} cores)`);
}

/** Where the CPU went: seconds per process in each timed phase, and cores busy on average. */
export function cpuTable(r: Results): string {
  const procs = [
    'pgwalstreams',
    'walsender',
    'nats-server',
    'pg_recvlogical',
    'inserting backend',
    'copying backend',
    'reading backend',
    'bench',
    'bench (publisher)',
  ];
  const phases = timedPhases(r);
  const used = procs.filter((p) => phases.some(([, t]) => t.cpu[p] !== undefined));
  const rows = phases.map(([name, t, n]) => [
    name,
    fixed(t.seconds, 2),
    ...used.map((p) => (t.cpu[p] === undefined ? '' : fixed(t.cpu[p], 2))),
    fixed(otherCpu(t), 2),
    fixed(t.machineCpu.steal, 2),
    fixed(t.machineCpu.busy / t.seconds, 2),
    fixed((Object.values(t.cpu).reduce((a, b) => a + b, 0) / n) * 1e6, 1),
  ]);
  return formatTable(
    ['phase', 'wall s', ...used.map((p) => `${p} s`), 'other s', 'steal s', 'cores busy', 'µs CPU/row'],
    rows,
    [false, true, ...used.map(() => true), true, true, true, true],
  );
}

/** The machine line. */
export function machineLine(m: Machine): string {
  return (
    `machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Linux ${m.kernel}, ` +
    `Node ${m.node}, PostgreSQL ${m.postgres}, nats-server ${m.natsServer}`
  );
}

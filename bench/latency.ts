/**
 * Latency at a steady rate of single-row transactions: commit in PostgreSQL → delivery of the
 * event to a core NATS subscriber on the stream's subjects. The subscriber receives the same
 * publish the stream stores, and the PubAck goes out once it is stored (file store, no fsync per
 * message), so on loopback the delivery and the PubAck are well under a millisecond apart. The
 * service's own histogram (`pgwalstreams_commit_to_ack_seconds`, scraped from /metrics) measures
 * commit → PubAck and is printed next to it as a cross-check.
 */
import pg from 'pg';
import { serviceConfig, startService } from '../test/integration/harness/scenario.js';
import { freePort } from '../test/integration/harness/wait.js';
import { CpuWatch, MachineCpuWatch, type MachineCpu } from './cpu.js';
import {
  createPhaseStream,
  deleteStream,
  dropSlot,
  phaseNames,
  walsenderPid,
  type BenchServers,
} from './servers.js';
import {
  bucketDelta,
  histogramBound,
  histogramQuantile,
  parseHistogram,
  percentile,
  type Bucket,
} from './stats.js';
import { WallClock } from './wall-clock.js';
import { createTable } from './workload.js';

/** Seconds at the rate before the measured window (connections, caches and JIT warm up). */
const WARMUP_SECONDS = 1;
const HISTOGRAM = 'pgwalstreams_commit_to_ack_seconds';

/** What the latency phase gave; times in milliseconds. */
export interface LatencyResult {
  rate: number;
  seconds: number;
  /** Transactions committed inside the measured window, per second. */
  achievedRate: number;
  samples: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** The service's histogram over the same window: bucket-interpolated p50/p99 and p99's bucket bound. */
  service: { p50: number; p99: number; p99Bound: number; count: number };
  /** How far the bench's microsecond clock drifted from the system clock during the phase. */
  clockDriftMs: number;
  /** CPU seconds per process from the first insert (warm-up included) until every event arrived. */
  cpu: Record<string, number>;
  /** The wall time the CPU figures cover. */
  cpuWallSeconds: number;
  /** CPU seconds of the whole machine in that time. */
  machineCpu: MachineCpu;
}

/** An event's `commitTime` (RFC 3339, UTC, microseconds) in microseconds since the epoch. */
export function commitTimeUs(text: string): number {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?Z$/.exec(text);
  if (!m) return NaN;
  return Date.parse(`${m[1]}Z`) * 1000 + Number((m[2] ?? '').padEnd(6, '0'));
}

async function scrape(port: number): Promise<Bucket[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return parseHistogram(await res.text(), HISTOGRAM);
}

/** Runs `rate` single-row transactions per second for `seconds` (after a warm-up) and measures each. */
export async function latency(s: BenchServers, rate: number, seconds: number): Promise<LatencyResult> {
  const names = phaseNames('latency');
  await createTable(s.sql, names.table);
  await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
  await createPhaseStream(s, names);
  const port = await freePort();
  const service = await startService(serviceConfig(s, names, { listener: { serverPort: port } }));
  // The inserts are made by the server itself, in a procedure that commits each one on schedule:
  // a client sending them would use more CPU than the pipeline it measures, on the same cores.
  await s.sql.query(`
    CREATE OR REPLACE PROCEDURE ${names.table}_paced(total int, rate int) LANGUAGE plpgsql AS $proc$
    DECLARE
      start timestamptz := clock_timestamp();
      lag float8;
    BEGIN
      FOR i IN 0 .. total - 1 LOOP
        lag := extract(epoch FROM start + make_interval(secs => i::float8 / rate) - clock_timestamp());
        IF lag > 0 THEN PERFORM pg_sleep(lag); END IF;
        INSERT INTO ${names.table} (name, email, created_at, payload)
          VALUES ('user ' || i, 'user' || i || '@example.com', now(), jsonb_build_object('n', i, 'tags', jsonb_build_array('a', 'b')));
        COMMIT;
      END LOOP;
    END $proc$`);
  const writer = new pg.Client({ connectionString: s.pg.connectionString });
  await writer.connect();
  const [backend] = (await writer.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
  const clock = await WallClock.start();
  try {
    const total = Math.round((WARMUP_SECONDS + seconds) * rate);
    const latenciesMs: number[] = [];
    let received = 0;
    let windowFromUs = Infinity;
    let windowToUs = Infinity;
    const commitTimeAt = /"commitTime":"([^"]+)"/;
    const decoder = new TextDecoder();
    const sub = s.nc.subscribe(`${names.prefix}.>`, {
      callback: (err, msg) => {
        const now = clock.nowUs();
        if (err) return;
        received++;
        const text = commitTimeAt.exec(decoder.decode(msg.data))?.[1];
        const committed = text === undefined ? NaN : commitTimeUs(text);
        if (committed >= windowFromUs && committed < windowToUs) latenciesMs.push((now - committed) / 1000);
      },
    });
    await s.nc.flush();

    const walsender = new CpuWatch(await walsenderPid(s, names.slot));
    const watches = {
      pgwalstreams: new CpuWatch(service.pid),
      walsender,
      'nats-server': new CpuWatch(s.nats.pid!),
      'inserting backend': new CpuWatch(backend!.pid),
    };
    const bench = process.cpuUsage();
    const machine = new MachineCpuWatch();
    const c0 = performance.now();
    let before: Bucket[] = [];
    // One insert at a time, each committed at start + i / rate (pg_sleep wakes up to 1 ms late,
    // then the next inserts catch up): the first second is a warm-up, outside the window.
    const warmupTimer = setTimeout(() => {
      windowFromUs = clock.nowUs();
      void scrape(port).then((b) => (before = b));
    }, WARMUP_SECONDS * 1000);
    let failure: unknown;
    await writer
      .query(`CALL ${names.table}_paced($1, $2)`, [total, rate])
      .catch((e: unknown) => (failure = e));
    clearTimeout(warmupTimer);
    windowToUs = clock.nowUs();
    const measuredSeconds = (windowToUs - windowFromUs) / 1e6;
    const waitStart = performance.now();
    while (received < total && failure === undefined) {
      if (performance.now() - waitStart > 60_000)
        throw new Error(`latency: ${received} of ${total} events received 60 s after the last insert`);
      await new Promise((r) => setTimeout(r, 1));
    }
    if (failure !== undefined) throw new Error('latency: an insert failed', { cause: failure });
    const used = process.cpuUsage(bench);
    const cpuWallSeconds = (performance.now() - c0) / 1000;
    const machineCpu = machine.stop();
    const cpu: Record<string, number> = { bench: (used.user + used.system) / 1e6 };
    for (const [name, watch] of Object.entries(watches)) cpu[name] = watch.stop();
    const delta = bucketDelta(before, await scrape(port));
    sub.unsubscribe();
    const driftMs = await clock.driftMs();

    const sorted = latenciesMs.sort((a, b) => a - b);
    return {
      rate,
      seconds,
      achievedRate: sorted.length / measuredSeconds,
      samples: sorted.length,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      max: sorted.at(-1) ?? NaN,
      service: {
        p50: histogramQuantile(delta, 0.5) * 1000,
        p99: histogramQuantile(delta, 0.99) * 1000,
        p99Bound: histogramBound(delta, 0.99) * 1000,
        count: delta.at(-1)?.count ?? 0,
      },
      clockDriftMs: driftMs,
      cpu,
      cpuWallSeconds,
      machineCpu,
    };
  } finally {
    await clock.close();
    await writer.end().catch(() => {});
    await service.dispose();
    await dropSlot(s, names.slot);
    await deleteStream(s, names.stream);
    await s.sql.query(`DROP PUBLICATION ${names.publication}`);
    await s.sql.query(`DROP PROCEDURE IF EXISTS ${names.table}_paced`);
    await s.sql.query(`DROP TABLE ${names.table}`);
  }
}

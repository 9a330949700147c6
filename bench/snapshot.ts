/**
 * The initial snapshot of one table of `rows` rows, next to its read ceiling in the same run:
 * `COPY (SELECT * FROM <table>) TO STDOUT` of the same table, read by the bench and thrown away.
 * Then pgwalstreams starts with `listener.snapshot: initial` on a fresh slot and stream, and is
 * timed until the stream holds every row and the table's end marker. Its resident memory is
 * sampled all along: flat means the second half of the snapshot needs no more than the first.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import { BUCKET } from '../test/integration/harness/backfill.js';
import { serviceConfig } from '../test/integration/harness/scenario.js';
import { streamCount } from '../test/integration/harness/jetstream.js';
import type { Timed } from './ceilings.js';
import { CpuWatch, MachineCpuWatch, peakRssBytes, rssBytes } from './cpu.js';
import { TimedService } from './timed-service.js';
import {
  createPhaseStream,
  deleteStream,
  dropSlot,
  phaseNames,
  storedSeconds,
  waitForStream,
  type BenchServers,
} from './servers.js';
import { createTable, insertRows } from './workload.js';

/** How often the service's resident memory is read during the snapshot. */
const RSS_INTERVAL_MS = 100;

/** What the snapshot phase gave. */
export interface SnapshotResult {
  rows: number;
  /** The read ceiling: the faster of two COPYs of the table (the first also warms the cache). */
  copy: Timed & { bytes: number };
  /** pgwalstreams from spawn until the stream holds every row and the end marker. */
  snapshot: Timed;
  /** Messages in the stream at the end (rows + 1 marker). */
  streamMessages: number;
  /** Highest VmRSS sampled in the first and in the second half of the snapshot (by time). */
  rssFirstHalfBytes: number;
  rssSecondHalfBytes: number;
  /** VmHWM at the end. */
  peakBytes: number;
}

/** One COPY of the whole table to the bench, timed, with the backend's CPU. */
async function copyOnce(s: BenchServers, table: string): Promise<Timed & { bytes: number }> {
  const c = new pg.Client({ connectionString: s.pg.connectionString });
  await c.connect();
  try {
    const [row] = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
    const backend = new CpuWatch(row!.pid);
    const bench = process.cpuUsage();
    const machine = new MachineCpuWatch();
    let bytes = 0;
    const t0 = performance.now();
    await pipeline(
      c.query(copyStreams.to(`COPY (SELECT * FROM ${table}) TO STDOUT`)),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          done();
        },
      }),
    );
    const t1 = performance.now();
    const machineCpu = machine.stop();
    const used = process.cpuUsage(bench);
    return {
      seconds: (t1 - t0) / 1000,
      bytes,
      machineCpu,
      cpu: { 'copying backend': backend.stop(), bench: (used.user + used.system) / 1e6 },
    };
  } finally {
    await c.end();
  }
}

/** The pids of the service's SQL backends (its row reader among them), once it replicates. */
async function serviceBackends(s: BenchServers): Promise<number[]> {
  const { rows } = await s.sql.query<{ pid: number }>(
    "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgwalstreams' AND backend_type = 'client backend'",
  );
  return rows.map((r) => r.pid);
}

/** Writes the table, measures the COPY ceiling, then an initial snapshot by pgwalstreams. */
export async function snapshot(
  s: BenchServers,
  rows: number,
  log: (line: string) => void,
): Promise<SnapshotResult> {
  const names = phaseNames('snapshot');
  await createTable(s.sql, names.table);
  await insertRows(s.sql, names.table, 1, rows);
  await s.sql.query(`VACUUM (ANALYZE) ${names.table}`);
  await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
  log(`  snapshot: wrote ${rows.toLocaleString('en-US')} rows`);
  try {
    const first = await copyOnce(s, names.table);
    const second = await copyOnce(s, names.table);
    const copy = first.seconds < second.seconds ? first : second;
    log(
      `  snapshot: COPY read the table in ${first.seconds.toFixed(2)} s, then ${second.seconds.toFixed(2)} s`,
    );

    await createPhaseStream(s, names);
    const config = serviceConfig(s, names, {
      listener: { serverPort: 0, snapshot: 'initial' },
    });
    const run = new TimedService(s, config, 'the snapshot');
    const { service, t0, stillRunning } = run;
    const samples: { at: number; bytes: number }[] = [];
    const sampler = setInterval(() => {
      try {
        samples.push({ at: performance.now(), bytes: rssBytes(service.pid) });
      } catch {
        // the process is gone; stillRunning reports it
      }
    }, RSS_INTERVAL_MS);
    try {
      // The row reader connects once the slot exists, and has read rows once the first is stored.
      await waitForStream(s, names.stream, 1, { timeoutMs: 60_000, stillRunning });
      // Sampled: the reader of the initial snapshot disconnects when it is done.
      const readers = (await serviceBackends(s)).map(
        (pid) => new CpuWatch(pid, { bornInside: true, intervalMs: 20 }),
      );
      const t1 = await waitForStream(s, names.stream, rows + 1, {
        timeoutMs: 120_000 + rows / 2,
        stillRunning,
      });
      clearInterval(sampler);
      const snap = run.stop(t1, { 'reading backend': readers });
      const peakBytes = peakRssBytes(service.pid);
      snap.storedSeconds = await storedSeconds(s, names.stream);
      const middle = (t0 + t1) / 2;
      const highest = (xs: { bytes: number }[]): number => xs.reduce((a, x) => Math.max(a, x.bytes), 0);
      log(`  snapshot: pgwalstreams published it in ${snap.seconds.toFixed(2)} s`);
      return {
        rows,
        copy,
        snapshot: snap,
        streamMessages: await streamCount(s.nc, names.stream),
        rssFirstHalfBytes: highest(samples.filter((x) => x.at < middle)),
        rssSecondHalfBytes: highest(samples.filter((x) => x.at >= middle)),
        peakBytes,
      };
    } finally {
      clearInterval(sampler);
      await service.dispose();
    }
  } finally {
    await dropSlot(s, names.slot);
    await deleteStream(s, names.stream);
    await deleteStream(s, `KV_${BUCKET}`);
    await s.sql.query(`DROP PUBLICATION ${names.publication}`);
    await s.sql.query(`DROP TABLE ${names.table}`);
  }
}

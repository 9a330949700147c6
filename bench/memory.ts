/**
 * Peak memory of pgwalstreams while it streams one very large transaction. The service publishes
 * changes as they are decoded, so its memory is bounded by the in-flight window, not by the
 * transaction: the peak (VmHWM) should stay flat as the transaction grows.
 */
import { serviceConfig, startService } from '../test/integration/harness/scenario.js';
import { peakRssBytes } from './cpu.js';
import {
  createPhaseStream,
  deleteStream,
  dropSlot,
  phaseNames,
  waitForStream,
  type BenchServers,
} from './servers.js';
import { createTable, insertRows } from './workload.js';

/** Rows streamed first, so the baseline includes a warmed-up pipeline. */
const WARMUP_ROWS = 1000;

/** What the memory phase gave. */
export interface MemoryResult {
  rows: number;
  /** VmHWM after streaming a 1 000-row transaction. */
  baselineBytes: number;
  /** VmHWM after streaming the large transaction. */
  peakBytes: number;
  /** Time to write the transaction (the service receives nothing before its commit). */
  insertSeconds: number;
  /** From the commit until the stream holds every row. */
  streamSeconds: number;
}

/** Streams one transaction of `rows` inserted rows and reads the service's peak RSS. */
export async function memory(s: BenchServers, rows: number): Promise<MemoryResult> {
  const names = phaseNames('memory');
  await createTable(s.sql, names.table);
  await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
  await createPhaseStream(s, names);
  const service = await startService(serviceConfig(s, names, { listener: { serverPort: 0 } }));
  let gone = false;
  void service.exited.then(() => (gone = true));
  const stillRunning = (): string | undefined =>
    gone ? `pgwalstreams exited while streaming:\n${service.tail()}` : undefined;
  try {
    await insertRows(s.sql, names.table, 1, WARMUP_ROWS);
    await waitForStream(s, names.stream, WARMUP_ROWS, { timeoutMs: 60_000, stillRunning });
    const baselineBytes = peakRssBytes(service.pid);
    const t0 = performance.now();
    await insertRows(s.sql, names.table, WARMUP_ROWS + 1, rows);
    const t1 = performance.now();
    const t2 = await waitForStream(s, names.stream, WARMUP_ROWS + rows, {
      timeoutMs: 120_000 + rows / 2,
      intervalMs: 100,
      stillRunning,
    });
    return {
      rows,
      baselineBytes,
      peakBytes: peakRssBytes(service.pid),
      insertSeconds: (t1 - t0) / 1000,
      streamSeconds: (t2 - t1) / 1000,
    };
  } finally {
    await service.dispose();
    await dropSlot(s, names.slot);
    await deleteStream(s, names.stream);
    await s.sql.query(`DROP PUBLICATION ${names.publication}`);
    await s.sql.query(`DROP TABLE ${names.table}`);
  }
}

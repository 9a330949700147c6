/**
 * Throughput of one change set, end to end, as a backlog drain: the service creates its slot and
 * stops, all the changes are written, then the service starts again and is timed from its spawn
 * until the stream holds every change. The slot ceiling (`pg_recvlogical`) is measured on the
 * same WAL, from a second slot created at the same point.
 */
import { serviceConfig, startService } from '../test/integration/harness/scenario.js';
import { streamCount } from '../test/integration/harness/jetstream.js';
import { recvlogicalDrain, type Timed } from './ceilings.js';
import { CpuWatch } from './cpu.js';
import {
  createPhaseStream,
  deleteStream,
  dropSlot,
  phaseNames,
  readSample,
  storedSeconds,
  waitForStream,
  walsenderPid,
  type BenchServers,
  type SampleMessage,
} from './servers.js';
import { TimedService } from './timed-service.js';
import { ChangeSet, currentLsn } from './workload.js';

/** Rows per transaction of the large-transaction set. */
export const LARGE_TRANSACTION_ROWS = 10_000;
/** How many stored events are kept to publish again in the ceiling and naive phases. */
const SAMPLE_SIZE = 10_000;

/** What one change set gave. */
export interface ThroughputResult {
  set: 'large' | 'small';
  changes: number;
  transactions: number;
  /** Time the server took to write the changes (not part of any figure). */
  writeSeconds: number;
  /** The slot ceiling on the same WAL; absent without pg_recvlogical. */
  drain: Timed | undefined;
  /** pgwalstreams from spawn until the stream holds every change. */
  endToEnd: Timed;
  /** From spawn until the walsender of the service's session appeared. */
  startupSeconds: number;
  /** Messages in the stream at the end (must equal `changes`). */
  streamMessages: number;
  /** The first stored events (at most 10 000), for the publish-only phases. */
  sample: SampleMessage[];
}

/** Measures one change set: writes it, drains it with pg_recvlogical, then with pgwalstreams. */
export async function throughput(
  s: BenchServers,
  set: 'large' | 'small',
  changes: number,
  log: (line: string) => void,
): Promise<ThroughputResult> {
  const names = phaseNames(set);
  const changeSet = new ChangeSet(names.table, changes);
  await changeSet.create(s.sql);
  await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
  await createPhaseStream(s, names);
  const config = serviceConfig(s, names, { listener: { serverPort: 0 } });

  // GIVEN the service's slot at the position before the changes (the service creates it), and
  // the drain slot at the same point.
  await (await startService(config)).dispose();
  const drainSlot = `${names.slot}_recvlogical`;
  if (s.recvlogical)
    await s.sql.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [drainSlot]);

  // WHEN all the changes are written
  const w0 = performance.now();
  const transactions =
    set === 'large'
      ? await changeSet.writeLarge(s.sql, LARGE_TRANSACTION_ROWS)
      : await changeSet.writeSmall(s.sql);
  const writeSeconds = (performance.now() - w0) / 1000;
  const endLsn = await currentLsn(s.sql);
  log(`  ${set}: wrote ${changes} changes in ${transactions} transactions (${writeSeconds.toFixed(1)} s)`);

  // THEN the slot ceiling: pg_recvlogical to /dev/null up to the last commit
  let drain: Timed | undefined;
  if (s.recvlogical) {
    drain = await recvlogicalDrain(s, { slot: drainSlot, publication: names.publication, endLsn });
    await dropSlot(s, drainSlot);
    log(`  ${set}: pg_recvlogical drained the slot in ${drain.seconds.toFixed(2)} s`);
  }

  // AND pgwalstreams from its start until the stream holds every change
  const run = new TimedService(s, config, 'the drain');
  const { service, t0 } = run;
  const walsender = new CpuWatch(await walsenderPid(s, names.slot), { bornInside: true });
  const startupSeconds = (performance.now() - t0) / 1000;
  const t1 = await waitForStream(s, names.stream, changes, {
    timeoutMs: 120_000 + changes / 2,
    stillRunning: run.stillRunning,
  });
  const endToEnd = run.stop(t1, { walsender });
  await service.dispose();
  await dropSlot(s, names.slot);
  const streamMessages = await streamCount(s.nc, names.stream);
  endToEnd.storedSeconds = await storedSeconds(s, names.stream);
  log(`  ${set}: pgwalstreams streamed them in ${endToEnd.seconds.toFixed(2)} s`);

  const sample = await readSample(s, names.stream, names.prefix, Math.min(SAMPLE_SIZE, changes));
  await deleteStream(s, names.stream);
  await s.sql.query(`DROP PUBLICATION ${names.publication}`);
  await s.sql.query(`DROP TABLE ${names.table}`);
  return {
    set,
    changes,
    transactions,
    writeSeconds,
    drain,
    endToEnd,
    startupSeconds,
    streamMessages,
    sample,
  };
}

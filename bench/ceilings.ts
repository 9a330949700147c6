/**
 * The two ceilings pgwalstreams runs between, measured on this machine in this run: how fast the
 * walsender can decode the slot when the client does nothing (`pg_recvlogical` to /dev/null), and
 * how fast JetStream stores the same events when the publisher does almost nothing (pipelined core
 * publishes with a reply inbox, as the service's sink does).
 */
import { spawn } from 'node:child_process';
import { createInbox, connect, headers, type Msg, type MsgHdrs } from '@nats-io/transport-node';
import { CpuWatch, MachineCpuWatch, type MachineCpu } from './cpu.js';
import { streamCount } from '../test/integration/harness/jetstream.js';
import {
  createPhaseStream,
  deleteStream,
  phaseNames,
  storedSeconds,
  type BenchServers,
  type SampleMessage,
} from './servers.js';

/** A timed run and the CPU seconds of the processes involved. */
export interface Timed {
  seconds: number;
  /** CPU seconds by process name; a process that could not be watched is absent. */
  cpu: Record<string, number>;
  /** CPU seconds of the whole machine in the same interval (ours plus everything else), and steal. */
  machineCpu: MachineCpu;
  /** For a run that filled a stream: from its first message stored to its last (`storedSeconds`). */
  storedSeconds?: number;
}

/** A 36-character id shaped like the service's UUIDs, unique per `seq`. */
export function msgIdFor(run: string, seq: number): string {
  return `${run.padStart(8, '0').slice(-8)}-0000-8000-0000-${seq.toString(16).padStart(12, '0')}`;
}

/**
 * Drains `slot` with `pg_recvlogical` to /dev/null, pgoutput protocol 1, until `endLsn` (`-E`):
 * timed from the spawn to the exit. The walsender is found by `pg_replication_slots.active_pid`
 * and, like pg_recvlogical, sampled every 20 ms, because both exit at the end of the drain.
 */
export async function recvlogicalDrain(
  s: BenchServers,
  options: { slot: string; publication: string; endLsn: string },
): Promise<Timed> {
  if (!s.recvlogical) throw new Error('pg_recvlogical is not installed in the PostgreSQL bin dir');
  const args = [
    ...['-h', s.pg.host, '-p', String(s.pg.port), '-U', s.pg.user, '-d', s.pg.database],
    ...['--slot', options.slot, '--start', '--no-loop', '-f', '/dev/null', '-E', options.endLsn],
    ...['-o', 'proto_version=1', '-o', `publication_names=${options.publication}`],
  ];
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PG')));
  const machine = new MachineCpuWatch();
  const t0 = performance.now();
  const child = spawn(s.recvlogical, args, { stdio: ['ignore', 'ignore', 'pipe'], env });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const client = new CpuWatch(child.pid!, { bornInside: true, intervalMs: 20 });
  let walsender: CpuWatch | undefined;
  let exited = false;
  const exit = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      exited = true;
      if (code === 0) resolve(performance.now());
      else reject(new Error(`pg_recvlogical exited with ${signal ?? code}: ${stderr.trim()}`));
    });
  });
  // Find the walsender while pg_recvlogical runs; a very short drain may end before it is seen.
  while (!exited && !walsender) {
    const { rows } = await s.sql.query<{ pid: number | null }>(
      'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
      [options.slot],
    );
    const pid = rows[0]?.pid;
    if (pid) walsender = new CpuWatch(pid, { bornInside: true, intervalMs: 20 });
    else await new Promise((r) => setTimeout(r, 5));
  }
  const t1 = await exit;
  const machineCpu = machine.stop();
  const cpu: Record<string, number> = { pg_recvlogical: client.stop() };
  if (walsender) cpu['walsender'] = walsender.stop();
  return { seconds: (t1 - t0) / 1000, cpu, machineCpu };
}

/**
 * What a ceiling's messages carry besides the event and a unique `Nats-Msg-Id`, in the service's
 * order: `slot` (`Pgwalstreams-Slot`), `transaction` (`Pgwalstreams-Lsn`, `-Xid`, `-Position`,
 * before the slot, as `nats.headers: [lsn, xid, position]` sends them), `expected`
 * (`Nats-Expected-Last-Sequence`, each message expecting the one before); and the reply inbox
 * (`<inbox>.<seq>`, default `_bench.<22 characters>`).
 */
export interface CeilingShape {
  slot?: boolean;
  transaction?: boolean;
  expected?: boolean;
  inbox?: string;
  /** `Nats-Expected-Last-Msg-Id`, each message expecting the id of the one before (the first: the sequence). */
  expectedId?: boolean;
  /** Ask for a PubAck on every `ackEvery`-th message only (and the last); default 1, every message. */
  ackEvery?: number;
}

/** One `Nats-Msg-Id` header. */
export const BARE: CeilingShape = {};
/**
 * What the service sends by default to a stream of one replica: its headers (the slot, and the id
 * chain), an inbox of its length (`_pgw.<12>.`), and a PubAck asked for once per batch, about 128
 * of the bench's events (a 64 KB batch).
 */
export const SERVICE_DEFAULT: CeilingShape = {
  slot: true,
  expectedId: true,
  inbox: '_pgw.AAAAAAAAAAAA',
  ackEvery: 128,
};
/** The same to a replicated stream: the sequence chain, a PubAck per message. */
export const SERVICE_REPLICATED: CeilingShape = { slot: true, expected: true, inbox: '_pgw.AAAAAAAAAAAA' };

/** The slot name the headers carry (the large set's). */
const SAMPLE_SLOT = 'bench_large';

/**
 * Publishes `n` messages, cycling through `sample`, to JetStream as the ceiling: core publishes
 * with the headers of `shape` and the reply subject `<inbox>.<seq>`, one wildcard subscription
 * counting the PubAcks, at most `window` unacknowledged, refilled as each PubAck arrives, into a
 * fresh file-storage stream of its own (`label` names it). Fails on an error PubAck, a duplicate,
 * no responders, or a stream that does not end up holding `n` messages.
 */
export async function rawPublish(
  s: BenchServers,
  options: {
    sample: readonly SampleMessage[];
    n: number;
    window: number;
    shape: CeilingShape;
    label: string;
  },
): Promise<Timed> {
  const { n, window, sample, shape } = options;
  const names = phaseNames(options.label);
  await createPhaseStream(s, names);
  try {
    const timed = await publishWindowed(s, names.prefix, sample, n, window, shape, async () => {
      const stored = await streamCount(s.nc, names.stream);
      if (stored !== n) throw new Error(`the raw publish stored ${stored} of ${n} messages`);
    });
    return { ...timed, storedSeconds: await storedSeconds(s, names.stream) };
  } finally {
    await deleteStream(s, names.stream);
  }
}

/** The headers of message `seq` (0-based) of a ceiling of `shape` on a fresh stream. */
function ceilingHeaders(shape: CeilingShape, seq: number): MsgHdrs {
  const h = headers();
  h.set('Nats-Msg-Id', msgIdFor('raw', seq));
  if (shape.transaction) {
    // One transaction of 10 000 events per commit LSN, as the large set's.
    h.set(
      'Pgwalstreams-Lsn',
      `0/${(0x1a000000 + Math.floor(seq / 10_000) * 0x2b0000).toString(16).toUpperCase()}`,
    );
    h.set('Pgwalstreams-Xid', String(1000 + Math.floor(seq / 10_000)));
    h.set('Pgwalstreams-Position', String(seq % 10_000));
  }
  if (shape.slot) h.set('Pgwalstreams-Slot', SAMPLE_SLOT);
  if (shape.expected) h.set('Nats-Expected-Last-Sequence', String(seq));
  if (shape.expectedId) {
    if (seq === 0) h.set('Nats-Expected-Last-Sequence', '0');
    else h.set('Nats-Expected-Last-Msg-Id', msgIdFor('raw', seq - 1));
  }
  return h;
}

async function publishWindowed(
  s: BenchServers,
  prefix: string,
  sample: readonly SampleMessage[],
  n: number,
  window: number,
  shape: CeilingShape,
  check: () => Promise<void>,
): Promise<Timed> {
  const subjects = sample.map((m) => `${prefix}.${m.subject}`);
  const nc = await connect({ servers: s.nats.url });
  const inbox = shape.inbox ?? createInbox('_bench');
  const ackEvery = shape.ackEvery ?? 1;
  let sent = 0;
  let acked = 0;
  let failure: Error | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  const fill = (): void => {
    while (sent < n && sent - acked < window) {
      const i = sent % sample.length;
      const ask = (sent + 1) % ackEvery === 0 || sent === n - 1;
      nc.publish(subjects[i]!, sample[i]!.data, {
        headers: ceilingHeaders(shape, sent),
        ...(ask ? { reply: `${inbox}.${sent}` } : {}),
      });
      sent++;
    }
  };
  const onAck = (err: Error | null, msg: Msg): void => {
    if (failure) return;
    if (err) failure = err;
    else if (msg.data.length === 0) failure = new Error(`no PubAck (status ${msg.headers?.code ?? '?'})`);
    else {
      const ack = msg.json<{ error?: { description?: string }; duplicate?: boolean }>();
      if (ack.error) failure = new Error(`PubAck error: ${ack.error.description ?? 'unknown'}`);
      else if (ack.duplicate) failure = new Error('PubAck says duplicate: message ids are not unique');
    }
    if (failure) return finish();
    acked = Number(msg.subject.slice(inbox.length + 1)) + 1;
    if (acked === n) return finish();
    fill();
  };
  nc.subscribe(`${inbox}.*`, { callback: onAck });
  await nc.flush();

  const nats = new CpuWatch(s.nats.pid!);
  const bench = process.cpuUsage();
  const machine = new MachineCpuWatch();
  const t0 = performance.now();
  let lastAcked = -1;
  const watchdog = setInterval(() => {
    if (acked === lastAcked) {
      failure ??= new Error(`no PubAck for 30 s after ${acked} of ${n}`);
      finish();
    }
    lastAcked = acked;
  }, 30_000);
  fill();
  await done;
  const t1 = performance.now();
  const machineCpu = machine.stop();
  clearInterval(watchdog);
  const used = process.cpuUsage(bench);
  const cpu = { 'nats-server': nats.stop(), 'bench (publisher)': (used.user + used.system) / 1e6 };
  await nc.close();
  if (failure) throw failure;
  await check();
  return { seconds: (t1 - t0) / 1000, cpu, machineCpu };
}

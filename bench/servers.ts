/**
 * The servers of one bench run, started the way the integration tests start them (fresh temp
 * dirs, free ports, Debian's binaries), plus a control connection to each and the helpers every
 * phase needs: names, publications, slots, streams and the processes to watch.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { createStream, streamCount } from '../test/integration/harness/jetstream.js';
import { startNats } from '../test/integration/harness/nats.js';
import { startPostgres } from '../test/integration/harness/postgres.js';
import type { Names, Servers } from '../test/integration/harness/scenario.js';
import { waitFor } from '../test/integration/harness/wait.js';

/**
 * PostgreSQL settings of the bench cluster, on top of the harness's (`wal_level = logical`, fsync
 * off): the research's shared_buffers and max_wal_size, so that checkpoints do not interrupt the
 * writes of a change set.
 */
export const PG_SETTINGS = { shared_buffers: '512MB', max_wal_size: '4GB' } as const;

/** The servers plus a long-lived SQL connection for the bench's own queries. */
export interface BenchServers extends Servers {
  /** The bench's SQL connection: polling on it does not fork a backend per query. */
  sql: pg.Client;
  /** `pg_recvlogical` of the server's bin dir, when installed. */
  recvlogical: string | undefined;
  pgVersion: string;
  natsVersion: string;
}

/** Starts PostgreSQL and nats-server in temp dirs and connects to both. */
export async function startBenchServers(): Promise<BenchServers> {
  const [pgs, nats] = await Promise.all([startPostgres({ settings: PG_SETTINGS }), startNats()]);
  const nc = await connect({ servers: nats.url, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  const sql = new pg.Client({ connectionString: pgs.connectionString });
  await sql.connect();
  const [row] = (await sql.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows;
  const recvlogical = join(pgs.binDir, 'pg_recvlogical');
  return {
    pg: pgs,
    nats,
    nc,
    sql,
    recvlogical: existsSync(recvlogical) ? recvlogical : undefined,
    pgVersion: row?.v ?? 'unknown',
    natsVersion: nc.info?.version ?? 'unknown',
    async dispose() {
      await sql.end().catch(() => {});
      await nc.close().catch(() => {});
      await Promise.all([pgs.dispose(), nats.dispose()]);
    },
  };
}

/** Names of one phase: slot, publication and table `bench_<phase>`, subject prefix and stream of its own. */
export function phaseNames(phase: string): Names & { table: string } {
  return {
    slot: `bench_${phase}`,
    publication: `bench_${phase}`,
    table: `bench_${phase}`,
    prefix: `bench.${phase}`,
    stream: `BENCH_${phase.toUpperCase()}`,
  };
}

/** Creates the phase's file-storage stream on `<prefix>.>`. */
export async function createPhaseStream(s: BenchServers, names: Names): Promise<void> {
  await createStream(s.nc, names.stream, [`${names.prefix}.>`]);
}

/** Deletes a stream (its messages are on disk in the temp dir). */
export async function deleteStream(s: BenchServers, name: string): Promise<void> {
  const jsm = await jetstreamManager(s.nc);
  await jsm.streams.delete(name).catch(() => false);
}

/** Drops a slot if it exists, so that it holds no WAL after its phase. */
export async function dropSlot(s: BenchServers, slot: string): Promise<void> {
  await s.sql.query(
    'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
}

/** The walsender serving `slot` (`pg_replication_slots.active_pid`), once the slot is in use. */
export async function walsenderPid(s: BenchServers, slot: string, timeoutMs = 30_000): Promise<number> {
  return waitFor(
    async () => {
      const { rows } = await s.sql.query<{ pid: number | null }>(
        'SELECT active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1',
        [slot],
      );
      return rows[0]?.pid ?? undefined;
    },
    { what: `a walsender on slot ${slot}`, timeoutMs, intervalMs: 10 },
  );
}

/**
 * Waits until the stream holds `n` messages and returns the time of the poll that saw them
 * (`performance.now()`). Throws at once when `stillRunning` says the producer is gone.
 *
 * Every poll is a request that costs the bench and nats-server CPU on the machine being measured,
 * so polls are spaced by the time the current rate needs for a quarter of what is left (at most
 * 250 ms), and come every `intervalMs` (default 25) near the end, which bounds the timing error
 * while the rate holds; a rate that rises sharply near the end can only make the figure slower.
 */
export async function waitForStream(
  s: BenchServers,
  stream: string,
  n: number,
  options: { timeoutMs: number; intervalMs?: number; stillRunning?: () => string | undefined },
): Promise<number> {
  const interval = options.intervalMs ?? 25;
  let previous: { at: number; count: number } | undefined;
  let next = interval;
  return waitFor(
    async () => {
      const problem = options.stillRunning?.();
      if (problem !== undefined) throw new Error(problem);
      const count = await streamCount(s.nc, stream).catch(() => -1);
      const at = performance.now();
      if (count >= n) return at;
      next = interval;
      if (previous && count > previous.count) {
        const perMs = (count - previous.count) / (at - previous.at);
        next = Math.min(250, Math.max(interval, (n - count) / perMs / 4));
      }
      previous = { at, count };
      return undefined;
    },
    { what: `${n} messages in stream ${stream}`, timeoutMs: options.timeoutMs, intervalMs: () => next },
  );
}

/**
 * Seconds from the first message the stream stored to the last, by nats-server's own timestamps
 * (`first_ts`, `last_ts`): how long the stream took to fill, whoever published. Timing both the
 * ceiling and pgwalstreams this way leaves out what neither is about (connecting, creating the
 * stream, a process starting) on both sides alike.
 */
export async function storedSeconds(s: BenchServers, stream: string): Promise<number> {
  const jsm = await jetstreamManager(s.nc, { checkAPI: false });
  const { first_ts, last_ts } = (await jsm.streams.info(stream)).state;
  return (rfc3339Micros(last_ts) - rfc3339Micros(first_ts)) / 1e6;
}

/** µs since the Unix epoch of an RFC 3339 time with up to nanoseconds (Date keeps milliseconds only). */
export function rfc3339Micros(text: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 time: ${text}`);
  const seconds = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(seconds)) throw new Error(`not an RFC 3339 time: ${text}`);
  return seconds * 1000 + Number((m[2] ?? '').padEnd(6, '0').slice(0, 6));
}

/** A stored event to publish again: its subject after the phase's prefix, and its body. */
export interface SampleMessage {
  /** E.g. `public.bench_large.insert`. */
  subject: string;
  data: Uint8Array;
}

/** The first `n` messages of a stream whose subjects start with `<prefix>.`. */
export async function readSample(
  s: BenchServers,
  stream: string,
  prefix: string,
  n: number,
): Promise<SampleMessage[]> {
  const jsm = await jetstreamManager(s.nc);
  const info = await jsm.consumers.add(stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.All,
    inactive_threshold: 60 * 1e9,
  });
  const consumer = await jetstream(s.nc).consumers.get(stream, info.name);
  const out: SampleMessage[] = [];
  try {
    while (out.length < n) {
      const batch = await consumer.fetch({ max_messages: Math.min(5000, n - out.length), expires: 5000 });
      let got = 0;
      for await (const m of batch) {
        got++;
        out.push({ subject: m.subject.slice(prefix.length + 1), data: new Uint8Array(m.data) });
      }
      if (got === 0) throw new Error(`stream ${stream}: read ${out.length} of ${n} messages, then nothing`);
    }
  } finally {
    await jsm.consumers.delete(stream, info.name).catch(() => {});
  }
  return out;
}

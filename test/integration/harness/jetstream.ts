/**
 * Reading back what pgwalstreams stored in JetStream: the tests' only source of truth about
 * what consumers would see.
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { waitFor } from './wait.js';

/** One stored message, with its event parsed. */
export interface StoredEvent {
  seq: number;
  subject: string;
  msgId: string;
  /** The Pgwalstreams-* headers (undefined where absent). */
  headers: {
    lsn?: string | undefined;
    xid?: string | undefined;
    position?: string | undefined;
    transactional?: string | undefined;
  };
  raw: string;
  /** The body parsed as JSON; `null` when it is not JSON (a logical message may be anything). */
  event: {
    id: string;
    schema: string;
    table: string;
    action: string;
    data: Record<string, unknown>;
    dataOld: Record<string, unknown>;
    commitTime: string;
    lsn: string;
    xid: number;
    [key: string]: unknown;
  };
}

/**
 * Creates a file-backed stream on `subjects`; its duplicate window is 2 minutes unless
 * `duplicateWindowMs` says otherwise, and it has one replica unless `replicas` says otherwise (3 on
 * a 3-node cluster: an R3 stream).
 */
export async function createStream(
  nc: NatsConnection,
  name: string,
  subjects: string[],
  options: { duplicateWindowMs?: number; replicas?: number } = {},
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const windowNanos = (options.duplicateWindowMs ?? 120_000) * 1e6;
  await jsm.streams.add({
    name,
    subjects,
    storage: StorageType.File,
    duplicate_window: windowNanos,
    num_replicas: options.replicas ?? 1,
  });
}

/** Number of messages the stream holds. */
export async function streamCount(nc: NatsConnection, name: string): Promise<number> {
  // One request (STREAM.INFO), without the API check request a manager makes first by default:
  // the bench polls this while it measures, and every request costs the server too.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  return (await jsm.streams.info(name)).state.messages;
}

/**
 * Waits until the stream holds at least `n` messages. Errors count as "not yet": the test's own
 * client may be reconnecting after a nats-server restart.
 */
export async function waitForCount(
  nc: NatsConnection,
  name: string,
  n: number,
  timeoutMs = 60_000,
): Promise<number> {
  return waitFor(
    async () => {
      const count = await streamCount(nc, name).catch(() => -1);
      return count >= n ? count : undefined;
    },
    { what: `${n} messages in stream ${name}`, timeoutMs, intervalMs: 100 },
  );
}

/** How many times {@link addLeaderConsumer} creates a consumer to get one led by the stream's leader. */
const PLACEMENT_ATTEMPTS = 20;

/**
 * Creates an ephemeral consumer of the whole stream (no acks, from the first message) and returns
 * its name. On a replicated stream it makes sure the consumer is led by the stream's leader,
 * creating it again until it is: a consumer delivers from its own node's replica, and a replica can
 * lag behind its leader for good (docs/RELIABILITY.md, the cluster pass), while what the leader
 * holds is the stream.
 */
export async function addLeaderConsumer(jsm: JetStreamManager, stream: string): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const consumer = await jsm.consumers.add(stream, {
      ack_policy: AckPolicy.None,
      deliver_policy: DeliverPolicy.All,
      inactive_threshold: 60 * 1e9,
    });
    const leader = (await jsm.streams.info(stream)).cluster?.leader;
    if (leader === undefined || consumer.cluster?.leader === leader) return consumer.name;
    await jsm.consumers.delete(stream, consumer.name).catch(() => {});
    if (attempt >= PLACEMENT_ATTEMPTS)
      throw new Error(`stream ${stream}: no consumer led by its leader ${leader} in ${attempt} attempts`);
  }
}

/** Reads every message of the stream, in stream order (on a replicated stream, as its leader holds it). */
export async function readStream(nc: NatsConnection, name: string): Promise<StoredEvent[]> {
  const jsm = await jetstreamManager(nc);
  const state = (await jsm.streams.info(name)).state;
  if (state.messages === 0) return [];
  const consumer = await addLeaderConsumer(jsm, name);
  const js = jetstream(nc);
  const c = await js.consumers.get(name, consumer);
  const out: StoredEvent[] = [];
  try {
    while (out.length < state.messages) {
      const batch = await c.fetch({
        max_messages: Math.min(10_000, state.messages - out.length),
        expires: 5000,
      });
      let got = 0;
      for await (const m of batch) {
        got++;
        const raw = m.string();
        const header = (k: string) => (m.headers?.has(k) ? m.headers.get(k) : undefined);
        out.push({
          seq: m.seq,
          subject: m.subject,
          msgId: m.headers?.get('Nats-Msg-Id') ?? '',
          headers: {
            lsn: header('Pgwalstreams-Lsn'),
            xid: header('Pgwalstreams-Xid'),
            position: header('Pgwalstreams-Position'),
            transactional: header('Pgwalstreams-Transactional'),
          },
          raw,
          event: parseOrNull(raw) as StoredEvent['event'],
        });
      }
      if (got === 0)
        throw new Error(`stream ${name}: read ${out.length} of ${state.messages} messages, then nothing`);
    }
  } finally {
    await jsm.consumers.delete(name, consumer).catch(() => {});
  }
  return out;
}

/** Waits until the client is connected again (after a nats-server restart). */
export async function waitForConnection(nc: NatsConnection): Promise<void> {
  await waitFor(
    () =>
      nc.flush().then(
        () => true,
        () => undefined,
      ),
    { what: 'the NATS client to reconnect', timeoutMs: 20_000 },
  );
}

function parseOrNull(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return null;
  }
}

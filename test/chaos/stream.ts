/**
 * Reads a whole stream once, in stream order, handing each message to a callback and keeping
 * none: an ephemeral pull consumer pulls batches of 10 000, so a million messages take seconds
 * and the memory of one batch. On an R3 stream the consumer is one its leader leads
 * (`addLeaderConsumer`): a consumer delivers from its own node's replica, and what the leader
 * holds is the stream.
 */
import { jetstream, jetstreamManager, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { addLeaderConsumer } from '../integration/harness/jetstream.js';

/** A stored message as the checks read it. */
export interface StoredMessage {
  seq: number;
  /** When nats-server stored it (ms since the epoch, its own clock). */
  storedAt: number;
  subject: string;
  msgId: string;
  lsn: string;
  xid: string;
  position: string;
  body: string;
}

const BATCH = 10_000;
/** No message for this long while some are still to come fails the read. */
const STALL_MS = 30_000;

/** Calls `onMessage` for every message of `stream` up to its last one now; returns how many there were. */
export async function readWholeStream(
  nc: NatsConnection,
  stream: string,
  onMessage: (message: StoredMessage) => void,
): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return 0;
  const name = await addLeaderConsumer(jsm, stream);
  const consumer = await jetstream(nc).consumers.get(stream, name);
  const messages = await consumer.consume({ max_messages: BATCH });
  let read = 0;
  let lastProgress = Date.now();
  let stalled = false;
  const watchdog = setInterval(() => {
    if (Date.now() - lastProgress < STALL_MS) return;
    stalled = true;
    void messages.close();
  }, 1000);
  try {
    for await (const m of messages) {
      onMessage(toStored(m));
      read++;
      lastProgress = Date.now();
      if (m.seq >= state.last_seq) break;
    }
  } finally {
    clearInterval(watchdog);
    await messages.close();
    await jsm.consumers.delete(stream, name).catch(() => {});
  }
  if (stalled || read < state.messages)
    throw new Error(
      `stream ${stream}: read ${read} of ${state.messages} messages, then nothing for ${STALL_MS} ms`,
    );
  return read;
}

function toStored(m: JsMsg): StoredMessage {
  const h = m.headers;
  return {
    seq: m.seq,
    storedAt: Math.floor(m.info.timestampNanos / 1e6),
    subject: m.subject,
    msgId: h?.get('Nats-Msg-Id') ?? '',
    lsn: h?.get('Pgwalstreams-Lsn') ?? '',
    xid: h?.get('Pgwalstreams-Xid') ?? '',
    position: h?.get('Pgwalstreams-Position') ?? '',
    body: m.string(),
  };
}

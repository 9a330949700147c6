/**
 * What the JetStream streams that capture a session's subjects already hold: for each stream, its
 * subjects, its replicas, its last sequence number and the last event this source stored in it.
 *
 * A session reads this before it publishes. The last sequence starts the chain of
 * `Nats-Expected-Last-Sequence` (or, on a stream of one replica, `-Msg-Id`) headers that keeps
 * stream order equal to publish order (see `jetstream-sink.ts`); the last event tells which
 * replayed events are already stored, so they are not sent again whatever the stream's duplicate
 * window. Because of the chain, what a stream holds
 * of this source is always a prefix of what was published to it: every event up to the last one is
 * there, none after it.
 *
 * An event is this source's when its `Nats-Msg-Id` is a pgwalstreams event id of this database
 * (`event-id.ts`: the id carries a hash of the system identifier) and its `Pgwalstreams-Slot`
 * header names this slot (a message stored by a version without that header counts as this
 * slot's). Any other last message is another publisher's: a stream that takes other messages cannot
 * keep the order chain, and the first event the session would publish to it ends the service with a
 * `StreamShareError`.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PgwalstreamsError, PublishError } from '../errors.js';
import { decodeEventId } from '../event/event-id.js';
import type { SourceIdentity } from './sink.js';

/** The header that names the slot an event came from. */
export const SLOT_HEADER = 'Pgwalstreams-Slot';

/** The last event of a source in a stream. */
export interface StoredTail {
  /** Its `Nats-Msg-Id`; ids of one source compare as their (LSN, position) do. */
  id: string;
  seq: number;
}

/** A stream that captures some of a session's subjects, as it was when the session started. */
export interface StreamTail {
  name: string;
  subjects: readonly string[];
  /** The stream's last sequence number (0 for a stream that never held a message). */
  lastSeq: number;
  /** The stream's replicas (`num_replicas`). */
  replicas: number;
  /** The last event of this source, or null when the stream holds none that can be read. */
  last: StoredTail | null;
  /** Why `last` is null though the stream is not new: its last message is gone (retention, purge). */
  lastGone: boolean;
  /**
   * Set when the stream's last message is another publisher's: publishing to the stream fails
   * with it (a stream the session never publishes to may well be another's).
   */
  foreign?: StreamShareError;
}

/** A stream that captures this source's subjects holds another publisher's messages. Fatal. */
export class StreamShareError extends PgwalstreamsError {
  readonly retryable = false;
}

/** True when `subject` (no wildcards) matches the stream subject `pattern` (`*` and `>` allowed). */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

/** How the lookup asks JetStream: its request timeout. */
export interface TailLookupOptions {
  timeoutMs: number;
  /**
   * The streams an earlier lookup found, used when listing them fails for want of an answer (in a
   * cluster, listing needs the meta leader, reading a stream only the stream's leader).
   */
  knownNames?: readonly string[] | undefined;
}

/**
 * Reads the streams whose subjects overlap `<topicPrefix>.>` and the last event `source` stored
 * in each. Throws a retryable `PublishError` that says what is wrong when JetStream does not answer
 * (no JetStream, a stream without a leader, a missing permission).
 */
export async function readStreamTails(
  nc: NatsConnection,
  topicPrefix: string,
  source: SourceIdentity,
  options: TailLookupOptions,
): Promise<StreamTail[]> {
  const filter = `${topicPrefix}.>`;
  const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs, checkAPI: false }).catch(
    (cause: unknown) => {
      throw lookupError('JetStream is not enabled on the NATS server or does not answer', cause);
    },
  );
  let names: string[];
  try {
    names = [];
    for await (const name of jsm.streams.names(filter)) names.push(name);
  } catch (cause) {
    const err = lookupError(`listing the streams that capture ${filter} failed`, cause);
    if (!(err instanceof StreamUnavailableError) || !options.knownNames?.length) throw err;
    names = [...options.knownNames];
  }
  return Promise.all(names.map((name) => readTail(jsm, name, source)));
}

async function readTail(jsm: JetStreamManager, name: string, source: SourceIdentity): Promise<StreamTail> {
  let info;
  try {
    info = await jsm.streams.info(name);
  } catch (cause) {
    throw lookupError(`reading stream ${name} failed`, cause, name);
  }
  const subjects = info.config.subjects ?? [];
  const lastSeq = info.state.last_seq;
  const replicas = info.config.num_replicas;
  if (lastSeq === 0 || info.state.messages === 0) {
    return { name, subjects, lastSeq, replicas, last: null, lastGone: lastSeq > 0 };
  }
  let msg;
  try {
    msg = await jsm.streams.getMessage(name, { seq: lastSeq });
  } catch (cause) {
    throw lookupError(`reading the last message (${lastSeq}) of stream ${name} failed`, cause, name);
  }
  if (!msg) return { name, subjects, lastSeq, replicas, last: null, lastGone: true };
  const id = msg.header?.get('Nats-Msg-Id') ?? '';
  if (!isSourceMessage(msg, source)) {
    return {
      name,
      subjects,
      lastSeq,
      replicas,
      last: null,
      lastGone: false,
      foreign: new StreamShareError(
        `stream ${name} captures subjects of this pgwalstreams, but its last message (sequence ${lastSeq}, ` +
          `subject ${msg.subject}) was not published by it (slot ${source.slot} of this database): ` +
          'pgwalstreams keeps stream order with the stream sequence, so a stream it publishes to ' +
          "must hold its events only. Give other publishers subjects outside this stream's, or give " +
          'pgwalstreams a stream (or a topicPrefix) of its own',
      ),
    };
  }
  return { name, subjects, lastSeq, replicas, last: { id, seq: lastSeq }, lastGone: false };
}

/** True for a stored message of `source`: see the module comment. */
export function isSourceMessage(msg: StoredMsg, source: SourceIdentity): boolean {
  return isOurs(msg.header?.get('Nats-Msg-Id') ?? '', msg.header?.get(SLOT_HEADER) ?? '', source);
}

/** True for an event id of this database whose slot header (when present) names this slot. */
function isOurs(id: string, slot: string, source: SourceIdentity): boolean {
  let namespace;
  try {
    namespace = decodeEventId(id).namespace;
  } catch {
    return false;
  }
  return namespace === source.namespace && (slot === '' || slot === source.slot);
}

/**
 * JetStream did not answer a lookup (no leader for the stream in a cluster, or a server that does
 * not answer): worth asking again soon. Retryable.
 */
export class StreamUnavailableError extends PublishError {}

/** JetStream's error code for "JetStream cluster not available" (no leader to answer). */
const CLUSTER_NOT_AVAILABLE = 10008;

/** A retryable error for a failed lookup that names the likely cause. */
function lookupError(what: string, cause: unknown, stream?: string): PublishError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof JetStreamApiError && cause.code === CLUSTER_NOT_AVAILABLE) {
    return new StreamUnavailableError(
      `${what}: the JetStream cluster has no leader for it (an election is under way, or too few servers are up) (${detail})`,
      { cause },
    );
  }
  if (/permissions violation/i.test(detail)) {
    return new PublishError(
      `${what}: the NATS user needs permission to subscribe to _pgw.> and to publish to $JS.API.STREAM.NAMES, ` +
        '$JS.API.STREAM.INFO.* and $JS.API.STREAM.MSG.GET.* (pgwalstreams reads the last stored event of ' +
        `each stream when a session starts) (${detail})`,
      { cause },
    );
  }
  if (/timeout|timed out|no responders|503|not enabled/i.test(detail)) {
    return new StreamUnavailableError(
      stream
        ? `${what}: stream ${stream} did not answer (in a JetStream cluster: it has no leader right now) (${detail})`
        : `${what}: JetStream did not answer (is it enabled on the NATS server? in a cluster: is there a meta leader?) (${detail})`,
      { cause },
    );
  }
  return new PublishError(`${what} (${detail})`, { cause });
}

/**
 * The last message stored on one subject: its body as JSON, or null when no stream captures the
 * subject or the stream holds none on it. Any other failure (no answer during an election, a
 * timeout) throws: "nothing stored" must never be guessed.
 */
export async function lastMessageOn(nc: NatsConnection, subject: string, timeoutMs = 5000): Promise<unknown> {
  const jsm = await jetstreamManager(nc, { timeout: timeoutMs, checkAPI: false });
  let stream: string;
  try {
    stream = await jsm.streams.find(subject);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return null;
    throw err;
  }
  const msg = await jsm.streams.getMessage(stream, { last_by_subj: subject });
  if (!msg) return null;
  try {
    return msg.json<unknown>();
  } catch {
    return null;
  }
}

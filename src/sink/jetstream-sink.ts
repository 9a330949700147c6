/**
 * Publishing to JetStream with a bounded window of unacknowledged messages: the `Sink` of
 * `sink.ts` for JetStream.
 *
 * Each event is sent as a core NATS publish (an `HPUB` frame, written in batches by `HpubBatch`)
 * whose reply subject is `<inbox>.<seq>`; one wildcard subscription receives every PubAck and
 * matches it to its event by `seq`. This avoids a timer, a promise and an error object per
 * message (what `js.publish()` costs) and lets thousands of publishes be in flight at once.
 *
 * On a stream of one replica, the events of a session after its first are chained by ids
 * (`Nats-Expected-Last-Msg-Id`), so the stream holds one only right after the one before it; then
 * only the last event of the stream in each batch (and the session's first) has a reply subject,
 * and its PubAck acknowledges every event of the stream up to it. nats-server then sends a PubAck
 * per batch instead of per event. Replicated streams are chained by sequence, every event with its
 * PubAck: nats-server 2.9.10 checks an id chain against each replica's memory, which a restarted
 * follower gets wrong (docs/RELIABILITY.md, "Replicas left behind").
 *
 * Contract: an event counts as stored only when its PubAck, or a later one of its stream chained
 * by ids, arrives without error. A missing
 * stream (no responders), an error PubAck or a PubAck that does not arrive within the ack
 * timeout is reported once, as a `PublishError`, and the sink stops accepting events.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import {
  headers as natsHeaders,
  PermissionViolationError,
  type Msg,
  type NatsConnection,
  type Status,
  type Subscription,
} from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { putAscii, putBytes, putDecimal } from '../bytes.js';
import type { EventSeq } from '../checkpoint/checkpointer.js';
import { PublishError } from '../errors.js';
import type { EventMeta } from '../event/change-event.js';
import { eventId, writeEventId, writeEventPosition, type TransactionIdPrefix } from '../event/event-id.js';
import { JsonBytes, utf8 } from '../event/json-bytes.js';
import type { Logger } from '../ops/log.js';
import { HpubBatch } from './hpub-batch.js';
import { InFlight } from './in-flight.js';
import type { NatsLink } from './nats-connection.js';
import { replySubjectBytes, type NatsInternals } from './nats-internals.js';
import type { Sink, SinkFactory, SinkListener, SinkScope } from './sink.js';
import { ensureStream, type StreamSettings } from './stream-setup.js';
import {
  readStreamTails,
  SLOT_HEADER,
  StreamShareError,
  StreamUnavailableError,
  isSourceMessage,
  subjectMatches,
  type StreamTail,
} from './stream-tail.js';

/** Subjects whose bytes are kept at most (tables × actions, and message prefixes). */
const MAX_CACHED_SUBJECTS = 10_000;

/** The headers sent with every event besides `Nats-Msg-Id`. */
export const Header = {
  MsgId: 'Nats-Msg-Id',
  Lsn: 'Pgwalstreams-Lsn',
  Xid: 'Pgwalstreams-Xid',
  Position: 'Pgwalstreams-Position',
  Transactional: 'Pgwalstreams-Transactional',
  Slot: SLOT_HEADER,
  ExpectedLastSeq: 'Nats-Expected-Last-Sequence',
  ExpectedLastMsgId: 'Nats-Expected-Last-Msg-Id',
} as const;

/**
 * Which of the transaction headers every event carries besides `Nats-Msg-Id`, `Pgwalstreams-Slot`
 * and `Nats-Expected-Last-Sequence` (`nats.headers`): each costs nats-server time per message, and
 * the id and the body hold the same values.
 */
export interface TransactionHeaders {
  /** `Pgwalstreams-Lsn`. */
  lsn: boolean;
  /** `Pgwalstreams-Xid` (a message outside a transaction always has `Pgwalstreams-Transactional: false`). */
  xid: boolean;
  /** `Pgwalstreams-Position`. */
  position: boolean;
}

/** Options of the sink. */
export interface SinkOptions {
  /** How long to wait for a PubAck before the publish counts as failed. */
  ackTimeoutMs: number;
  /** The transaction headers to send (`nats.headers`). */
  headers: TransactionHeaders;
  /** Events expected in flight at most (the publish window); more are handled, less efficiently. */
  window: number;
}

/** The settings of the JetStream sinks of a service. */
export interface JetStreamSettings extends SinkOptions {
  /** Stream to create when missing; absent: streams are managed outside. */
  stream?: StreamSettings | undefined;
}

const MSG_ID = utf8(`NATS/1.0\r\n${Header.MsgId}: `);
const LSN = utf8(`\r\n${Header.Lsn}: `);
const XID = utf8(`\r\n${Header.Xid}: `);
const NOT_TRANSACTIONAL = utf8(`\r\n${Header.Transactional}: false`);
const POSITION = utf8(`\r\n${Header.Position}: `);
const EXPECTED_LAST_SEQ = utf8(`\r\n${Header.ExpectedLastSeq}: `);
const EXPECTED_LAST_MSG_ID = utf8(`\r\n${Header.ExpectedLastMsgId}: `);
const END = utf8('\r\n\r\n');
/** The fixed parts of a header section, two ids (36 bytes each) and three numbers (16 bytes each), at most. */
const HEADER_BYTES =
  MSG_ID.length +
  LSN.length +
  NOT_TRANSACTIONAL.length +
  POSITION.length +
  EXPECTED_LAST_SEQ.length +
  EXPECTED_LAST_MSG_ID.length +
  END.length +
  72 +
  48;

/** `\r\nPgwalstreams-Slot: <slot>`, the part of every header section that names the source. */
export function slotHeaderLine(slot: string): Buffer {
  return utf8(`\r\n${Header.Slot}: ${slot}`);
}

/**
 * What a stream must end with for an event to be stored: the event before it in the session
 * (`Nats-Expected-Last-Msg-Id`) once there is one and the stream is chained by ids, else the
 * sequence `expected` (`Nats-Expected-Last-Sequence`).
 */
export interface ChainEnd {
  expected: number;
  /** The id of the event before, for a stream chained by ids; null: by the sequence. */
  prevPrefix: TransactionIdPrefix | null;
  prevNumber: number;
}

/**
 * Writes the header section of an event into `out` (from its start) and returns it:
 * `Nats-Msg-Id`, the transaction headers `include` names, the slot line (`slotHeaderLine`) and
 * what the stream must end with for the event to be stored (`end`). ASCII only (ids, LSNs,
 * numbers and a slot name).
 */
export function writeHeaderBlock(
  out: JsonBytes,
  meta: EventMeta,
  slotLine: Buffer,
  end: ChainEnd,
  include: TransactionHeaders,
): Buffer {
  out.reset();
  out.ensure(HEADER_BYTES + meta.lsn.length + slotLine.length);
  const buf = out.buf;
  let p = putBytes(buf, 0, MSG_ID);
  p = writeEventId(meta.idPrefix, meta.idNumber, buf, p);
  if (include.lsn) {
    p = putBytes(buf, p, LSN);
    p = putAscii(buf, p, meta.lsn);
  }
  if (meta.xid === null) {
    // Always: a message's payload is the application's own, so this is how it says so.
    p = putBytes(buf, p, NOT_TRANSACTIONAL);
  } else if (include.xid) {
    p = putBytes(buf, p, XID);
    p = putDecimal(buf, p, meta.xid);
  }
  if (include.position && meta.position !== null) {
    p = putBytes(buf, p, POSITION);
    p = putDecimal(buf, p, meta.position);
  }
  p = putBytes(buf, p, slotLine);
  if (end.prevPrefix === null) {
    p = putBytes(buf, p, EXPECTED_LAST_SEQ);
    p = putDecimal(buf, p, end.expected);
  } else {
    p = putBytes(buf, p, EXPECTED_LAST_MSG_ID);
    p = writeEventId(end.prevPrefix, end.prevNumber, buf, p);
  }
  out.pos = putBytes(buf, p, END);
  return out.view();
}

/** Bytes of an event id (`event-id.ts`), and of its prefix: all but the position's 8 hex digits. */
const ID_BYTES = 36;
const ID_PREFIX_BYTES = 28;

/**
 * The header section of a stream's events chained by ids when no transaction header is asked for:
 * `Nats-Msg-Id`, the slot line and `Nats-Expected-Last-Msg-Id`, which is the id of the event before,
 * so each section differs from the one before only in its two ids. One section is kept and patched:
 * the expected id takes the previous id, and of the new id only what changed is written (the
 * position's 8 hex digits, and the prefix when the transaction changed). The same bytes as
 * `writeHeaderBlock` (the unit tests compare them).
 */
export class IdChainHeaders {
  private readonly buf: Buffer;
  private readonly idAt = MSG_ID.length;
  private readonly prevAt: number;
  /** The id in the section now. */
  private idPrefix: TransactionIdPrefix | null = null;
  private idNumber = 0;

  constructor(slotLine: Buffer) {
    this.prevAt = this.idAt + ID_BYTES + slotLine.length + EXPECTED_LAST_MSG_ID.length;
    this.buf = Buffer.alloc(this.prevAt + ID_BYTES + END.length);
    putBytes(this.buf, 0, MSG_ID);
    putBytes(this.buf, this.idAt + ID_BYTES, slotLine);
    putBytes(this.buf, this.prevAt - EXPECTED_LAST_MSG_ID.length, EXPECTED_LAST_MSG_ID);
    putBytes(this.buf, this.prevAt + ID_BYTES, END);
  }

  /** The section of an event of a transaction (`meta.xid` set) that follows the event `end` names. */
  write(meta: EventMeta, end: ChainEnd & { prevPrefix: TransactionIdPrefix }): Buffer {
    const buf = this.buf;
    if (this.idPrefix === end.prevPrefix && this.idNumber === end.prevNumber) {
      buf.copyWithin(this.prevAt, this.idAt, this.idAt + ID_BYTES);
    } else {
      writeEventId(end.prevPrefix, end.prevNumber, buf, this.prevAt);
    }
    if (this.idPrefix !== meta.idPrefix) putBytes(buf, this.idAt, meta.idPrefix.prefixBytes);
    writeEventPosition(meta.idNumber, buf, this.idAt + ID_PREFIX_BYTES);
    this.idPrefix = meta.idPrefix;
    this.idNumber = meta.idNumber;
    return buf;
  }
}

interface PubAckBody {
  seq?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

const PLAIN_PUBACK = Buffer.from('{"stream":');

const ERROR_KEY = Buffer.from('"error"');

/**
 * True for a success PubAck: it starts `{"stream":` and has no `"error"` key anywhere (nats-server
 * puts `error` first, but the whole body is checked so that a different field order can never let
 * an error pass as a success).
 */
export function isPlainPubAck(data: Uint8Array): boolean {
  if (data.length < PLAIN_PUBACK.length + 8) return false;
  for (let i = 0; i < PLAIN_PUBACK.length; i++) if (data[i] !== PLAIN_PUBACK[i]) return false;
  outer: for (let i = 0; i + ERROR_KEY.length <= data.length; i++) {
    for (let j = 0; j < ERROR_KEY.length; j++) if (data[i + j] !== ERROR_KEY[j]) continue outer;
    return false;
  }
  return true;
}

/**
 * The event number at the end of a PubAck's subject `<inbox><seq>`; `from` is the inbox's length
 * (ASCII, so the same in characters and bytes). The number is read from the subject's bytes when
 * nats.js keeps them (`replySubjectBytes`), so that the subject is never decoded into a string;
 * from the string otherwise.
 */
export function replySeq(msg: Msg, from: number): number {
  const bytes = replySubjectBytes(msg);
  let n = 0;
  if (bytes) {
    for (let i = from; i < bytes.length; i++) n = n * 10 + bytes[i]! - 48;
    return n;
  }
  const subject = msg.subject;
  for (let i = from; i < subject.length; i++) n = n * 10 + subject.charCodeAt(i) - 48;
  return n;
}

/** The order chain of one stream during a session: what its next event must follow. */
interface StreamState extends ChainEnd {
  readonly name: string;
  /** Numbers the stream among the session's (its chain in `HpubBatch` and `InFlight`). */
  readonly chain: number;
  /**
   * A stream of one replica: its events after the first are chained by ids, and a PubAck for one
   * acknowledges every event of the stream before it.
   */
  readonly byId: boolean;
  /** The sequence the stream must end with for the next event to be stored. */
  expected: number;
  /** For a stream chained by ids, when no transaction header is asked for: its events' header sections. */
  readonly idHeaders: IdChainHeaders | null;
  /** Set for a stream another publisher writes to: publishing to it fails with this. */
  readonly foreign: StreamShareError | undefined;
  /** Events up to this id are stored already (from an earlier session) and not sent; null once passed. */
  skipThrough: string | null;
  skipped: number;
}

/** Where events on one subject go: the subject's bytes and the stream that captures it. */
interface Target {
  bytes: Buffer;
  stream: StreamState | undefined;
}

/** What a sink knows of the streams when its session starts (`stream-tail.ts`). */
export interface SinkStart {
  topicPrefix: string;
  tails: readonly StreamTail[];
  /** The `Pgwalstreams-Slot` line of every header section (`slotHeaderLine`). */
  slotLine: Buffer;
  /** Skip events already stored (false when the slot was just created: nothing can be replayed). */
  skipStored: boolean;
  /**
   * Told when a refusal shows the stream longer than this session made it: the messages from `from`
   * to `to` were stored by someone else, or by an earlier session late (`JetStreamSinkFactory`
   * looks at them before the next session).
   */
  suspect(stream: string, from: number, to: number): void;
}

/** A JetStream publisher for one replication session. */
export class JetStreamSink implements Sink {
  private readonly inbox: string;
  private readonly inboxBytes: Buffer;
  private readonly targets = new Map<string, Target>();
  private readonly streams: { subjects: readonly string[]; state: StreamState }[];
  /** Each event's header section is written here, then copied into its frame. */
  private readonly headers = new JsonBytes(256);
  private readonly batch: HpubBatch;
  private readonly subscription: Subscription;
  private readonly unwatch: () => void;
  private readonly pending: InFlight;
  private readonly timer: NodeJS.Timeout;
  private failed = false;

  constructor(
    private readonly nc: NatsConnection,
    link: NatsLink,
    internals: NatsInternals,
    private readonly listener: SinkListener,
    private readonly options: SinkOptions,
    private readonly start: SinkStart,
    private readonly log: Logger,
  ) {
    this.batch = new HpubBatch(internals.send);
    this.pending = new InFlight(options.window);
    this.streams = start.tails.map((t, chain) => ({
      subjects: t.subjects,
      state: {
        name: t.name,
        chain,
        byId: t.replicas === 1,
        idHeaders:
          t.replicas === 1 && !(options.headers.lsn || options.headers.xid || options.headers.position)
            ? new IdChainHeaders(start.slotLine)
            : null,
        prevPrefix: null,
        prevNumber: 0,
        foreign: t.foreign,
        expected: t.lastSeq,
        skipThrough: start.skipStored ? (t.last?.id ?? null) : null,
        skipped: 0,
      },
    }));
    // Short, because every publish carries it and every PubAck comes back on it: `_pgw.` and 72
    // random bits, unique to this session.
    this.inbox = `_pgw.${randomBytes(9).toString('base64url')}.`;
    this.inboxBytes = utf8(this.inbox);
    this.subscription = nc.subscribe(this.inbox + '*', {
      callback: (err, msg) =>
        err
          ? this.fail(
              new PublishError(
                `the PubAck subscription on ${this.inbox}* failed (${err.message}): ` +
                  'the NATS user needs permission to subscribe to _pgw.>',
                { cause: err },
              ),
            )
          : this.reply(msg),
    });
    this.unwatch = link.watch((s) => this.onStatus(s));
    this.timer = setInterval(
      () => this.checkTimeouts(),
      Math.max(50, Math.min(1000, options.ackTimeoutMs / 4)),
    );
    this.timer.unref();
  }

  /**
   * Publishes to JetStream. `seq` numbers the event; `meta` gives its `Nats-Msg-Id` (the event id)
   * and, as `options.headers` asks, the `Pgwalstreams-Lsn`, `-Xid` and `-Position` headers
   * (`Pgwalstreams-Transactional: false` on a message outside a transaction), and names in `Nats-Expected-Last-Sequence` the sequence
   * its stream must end with for it to be stored: after a lost or refused event, every later one of
   * the session is refused too, so none is stored ahead of a missing one. An event the stream already holds from
   * an earlier session is not sent: the listener hears `stored` for it at once.
   */
  publish(seq: EventSeq, subject: string, payload: Uint8Array, meta: EventMeta): void {
    if (this.failed) return;
    if (this.nc.isClosed()) {
      this.fail(new PublishError(`publish to ${subject} failed: the NATS connection is closed`, { subject }));
      return;
    }
    const target = this.target(subject);
    const stream = target.stream;
    if (!stream) {
      this.fail(
        new PublishError(
          `no JetStream stream captures subject ${subject}: create a stream whose subjects include it ` +
            `(for example "${subject.split('.')[0]}.>"), or set nats.stream in the configuration to create one`,
          { subject },
        ),
      );
      return;
    }
    if (stream.foreign) return this.fail(stream.foreign);
    if (stream.skipThrough !== null && this.alreadyStored(stream, seq, meta)) return;
    const max = this.nc.info?.max_payload ?? Infinity;
    const headers =
      stream.idHeaders && stream.prevPrefix !== null && meta.xid !== null
        ? stream.idHeaders.write(meta, stream as StreamState & { prevPrefix: TransactionIdPrefix })
        : writeHeaderBlock(this.headers, meta, this.start.slotLine, stream, this.options.headers);
    // Chained by ids, an event asks for a PubAck only as the last of its stream in a batch; the
    // first of the session always asks, so that a refusal of it says why (a refusal of a later
    // one says only that the event before it is missing).
    const chain = stream.prevPrefix === null ? -1 : stream.chain;
    const size = this.batch.add(target.bytes, this.inboxBytes, seq, headers, payload, max, chain);
    if (size > max) {
      this.fail(
        new PublishError(
          `event ${eventId(meta.idPrefix, meta.idNumber)} on ${subject} is ${size} bytes with its headers, more than the NATS server's max_payload of ${max} bytes: ` +
            'raise max_payload in the nats-server configuration (up to 64MB); pgwalstreams retries meanwhile',
          { subject },
        ),
      );
      return;
    }
    this.pending.add(seq, subject, Date.now(), stream.expected, stream.chain);
    stream.expected++;
    if (stream.byId) {
      stream.prevPrefix = meta.idPrefix;
      stream.prevNumber = meta.idNumber;
    }
  }

  /**
   * True (and the listener told) when the stream holds the event already. Events reach a stream in
   * id order, so the first one after the stored tail ends the skipping for good.
   */
  private alreadyStored(stream: StreamState, seq: EventSeq, meta: EventMeta): boolean {
    if (eventId(meta.idPrefix, meta.idNumber) <= stream.skipThrough!) {
      stream.skipped++;
      this.listener.stored(seq);
      return true;
    }
    this.log.info(
      { stream: stream.name, skipped: stream.skipped, after: stream.skipThrough },
      'resuming after the last event stored: replayed events already in the stream were not sent again',
    );
    stream.skipThrough = null;
    return false;
  }

  /** A subject's bytes and stream, found once (the cache is emptied if many subjects come and go). */
  private target(subject: string): Target {
    let target = this.targets.get(subject);
    if (!target) {
      if (this.targets.size >= MAX_CACHED_SUBJECTS) this.targets.clear();
      target = {
        bytes: utf8(subject),
        stream: this.streams.find((s) => s.subjects.some((p) => subjectMatches(p, subject)))?.state,
      };
      this.targets.set(subject, target);
    }
    return target;
  }

  oldestUnackedMs(now: number): number {
    const oldest = this.pending.oldest();
    return oldest ? now - oldest.sentAt : 0;
  }

  /** Stops listening for PubAcks. Unacknowledged events stay unacknowledged. */
  close(): void {
    clearInterval(this.timer);
    this.subscription.unsubscribe();
    this.unwatch();
  }

  /**
   * The first sign that an event may be lost ends the session: a lost connection (nats.js drops
   * what it had queued when it reconnects) or a publish the server refused for permissions.
   */
  private onStatus(s: Status): void {
    if (s.type === 'disconnect') {
      this.fail(
        new PublishError(
          `the NATS connection to ${s.server} was lost with ${this.pending.size} events unacknowledged: ` +
            'the session ends and resumes from the slot once it is back',
        ),
      );
    } else if (
      s.type === 'error' &&
      s.error instanceof PermissionViolationError &&
      s.error.operation === 'publish'
    ) {
      this.fail(
        new PublishError(
          `the NATS user may not publish to ${s.error.subject} (nats-server: ${s.error.message}): ` +
            `grant it publish permission on "${this.start.topicPrefix}.>" and subscribe permission on "_pgw.>"`,
          { subject: s.error.subject },
        ),
      );
    }
  }

  private reply(msg: Msg): void {
    if (this.failed) return;
    const seq = replySeq(msg, this.inbox.length) as EventSeq;
    const subject = this.pending.subjectOf(seq);
    if (subject === undefined) return; // a late reply for an event already failed or never sent by this session
    if (msg.headers?.hasError) {
      const code = msg.headers.code;
      this.fail(
        code === 503
          ? new PublishError(
              `no JetStream server answered for subject ${subject} (stream ${this.target(subject).stream?.name}): ` +
                'in a JetStream cluster the stream has no leader right now; otherwise the stream was deleted',
              { subject },
            )
          : new PublishError(`publish to ${subject} failed: ${code} ${msg.headers.description}`, {
              subject,
            }),
      );
      return;
    }
    // A PubAck is small JSON: `{"stream":"db","seq":7}`, with `"duplicate":true` at the end for a
    // replay, or `{"error":{…}}`. The plain success is recognised by its bytes; anything else is parsed.
    const data = msg.data;
    if (!isPlainPubAck(data)) {
      let parsed: PubAckBody;
      try {
        parsed = JSON.parse(
          Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'),
        ) as PubAckBody;
      } catch (cause) {
        this.fail(new PublishError(`unreadable PubAck for ${subject}`, { cause, subject }));
        return;
      }
      if (parsed.error || typeof parsed.seq !== 'number') {
        const stream = this.target(subject).stream?.name;
        const last = /wrong last sequence: (\d+)/.exec(parsed.error?.description ?? '');
        const expected = this.pending.expectedOf(seq);
        if (stream && last && parsed.error?.err_code === WRONG_LAST_SEQUENCE && Number(last[1]) > expected) {
          this.start.suspect(stream, expected + 1, Number(last[1]));
        }
        this.fail(refusal(subject, stream, parsed.error));
        return;
      }
    }
    const now = Date.now();
    const stream = this.target(subject).stream!;
    if (stream.byId) {
      // The stream holds this event only right after the one before it, and so on back to the
      // first of the session: every earlier event of the stream is stored.
      this.pending.removeThrough(seq, stream.chain, (s, sentAt) =>
        this.listener.acked(s as EventSeq, now - sentAt),
      );
    } else {
      this.listener.acked(seq, now - this.pending.remove(seq));
    }
  }

  private checkTimeouts(): void {
    if (this.failed) return;
    const oldest = this.pending.oldest();
    if (!oldest) return;
    const waited = Date.now() - oldest.sentAt;
    if (waited > this.options.ackTimeoutMs) {
      this.fail(
        new PublishError(
          `no PubAck from jetstream for ${oldest.subject} within ${this.options.ackTimeoutMs} ms ` +
            `(${this.pending.size} events unacknowledged): is nats-server up and the stream healthy?`,
          { subject: oldest.subject },
        ),
      );
    }
  }

  private fail(err: PublishError | StreamShareError): void {
    if (this.failed) return;
    this.failed = true;
    this.listener.failed(err);
  }
}

/** Messages read at most per suspect range (the rest of a long range is not looked at). */
const MAX_SUSPECTS_READ = 1000;

/** The header of the stop marker published to a stream another publisher writes to. */
export const STOP_HEADER = 'Pgwalstreams-Stop';

/** How long a session start waits for JetStream's answers, and for how long it asks again. */
const FIRST_LOOKUP_TIMEOUT_MS = 1000;
const UNAVAILABLE_RETRY_MS = 400;
const UNAVAILABLE_PAUSE_MS = 100;
const UNAVAILABLE_LIMIT_MS = 60_000;

/** JetStream's error codes for a publish whose stream does not end as its `Nats-Expected-Last-…` says. */
const WRONG_LAST_SEQUENCE = 10071;
const WRONG_LAST_MSG_ID = 10070;

/** The error for a PubAck that refuses an event. */
function refusal(subject: string, stream: string | undefined, e: PubAckBody['error']): PublishError {
  if (e?.err_code === WRONG_LAST_SEQUENCE) {
    return new PublishError(
      `stream ${stream} refused an event on ${subject} because the stream does not end with the sequence ` +
        `the event expected (${e.description}): an earlier event was not stored (or another publisher ` +
        'wrote to the stream), and no event is stored ahead of a missing one: the session ends and ' +
        'resumes from the slot',
      { subject },
    );
  }
  if (e?.err_code === WRONG_LAST_MSG_ID) {
    return new PublishError(
      `stream ${stream} refused an event on ${subject} because the stream's last message is not the event ` +
        `before it (${e.description}): that event, or one before it, was not stored (or another publisher ` +
        'wrote to the stream), and no event is stored ahead of a missing one: the session ends and resumes ' +
        'from the slot, and its first event, which waits for its own answer, says why if it is refused again',
      { subject },
    );
  }
  return new PublishError(
    `jetstream did not store an event on ${subject}: ${e?.description ?? 'no sequence in PubAck'}` +
      (e?.err_code ? ` (err_code ${e.err_code})` : ''),
    { subject },
  );
}

/**
 * Opens a `JetStreamSink` for each session over one NATS connection: waits for the connection,
 * creates the configured stream when it is missing, and reads what the streams that capture the
 * session's subjects already hold (`stream-tail.ts`).
 */
export class JetStreamSinkFactory implements SinkFactory {
  constructor(
    private readonly nc: NatsConnection,
    private readonly link: NatsLink,
    private readonly internals: NatsInternals,
    private readonly settings: JetStreamSettings,
    private readonly log: Logger,
  ) {}

  /** The streams found under each prefix by the last session start, for when listing them fails. */
  private readonly knownNames = new Map<string, string[]>();

  /** Stream ranges a refusal showed stored by someone other than the session that expected them. */
  private suspects: { stream: string; from: number; to: number }[] = [];

  /**
   * Looks at the messages a refusal showed in a stream beyond what the session expected. Messages
   * of this source are an earlier session's, stored late: harmless. Any other message means another
   * publisher writes to the stream, so events of this session may have been stored after a missing
   * one: a stop marker is published to the stream (a message of no source, so that every later
   * start refuses the stream, `stream-tail.ts`) and the service stops with a `StreamShareError`.
   */
  private async checkSuspects(scope: SinkScope): Promise<void> {
    const suspects = this.suspects.splice(0);
    if (suspects.length === 0) return;
    const jsm = await jetstreamManager(this.nc, { checkAPI: false });
    for (const { stream, from, to } of suspects) {
      for (let seq = from; seq <= Math.min(to, from + MAX_SUSPECTS_READ - 1); seq++) {
        const msg = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
        if (!msg || isSourceMessage(msg, scope.source)) continue;
        const why =
          `stream ${stream} holds a message of another publisher (sequence ${seq}, subject ${msg.subject}) ` +
          'among the events of this pgwalstreams, so some of its events may have been stored after one ' +
          'that is missing: the stream cannot be trusted. A stop marker was published to it, and pgwalstreams ' +
          'refuses the stream until it is purged or replaced: give other publishers a stream of their own, ' +
          'then purge this stream (and let consumers start again) or give pgwalstreams a new one';
        const h = natsHeaders();
        h.set(STOP_HEADER, 'another publisher wrote to this stream');
        this.nc.publish(msg.subject, why, { headers: h });
        await this.nc.flush();
        throw new StreamShareError(why);
      }
    }
  }

  /**
   * The streams' tails. While JetStream does not answer (a cluster electing the stream's leader),
   * asks again at once with a short timeout, so that the session starts within about half a second
   * of a leader existing; after `UNAVAILABLE_LIMIT_MS` the last error ends the attempt.
   */
  private async readTails(scope: SinkScope): Promise<StreamTail[]> {
    const started = Date.now();
    let timeoutMs = Math.min(this.settings.ackTimeoutMs, FIRST_LOOKUP_TIMEOUT_MS);
    for (;;) {
      try {
        const tails = await readStreamTails(this.nc, scope.topicPrefix, scope.source, {
          timeoutMs,
          knownNames: this.knownNames.get(scope.topicPrefix),
        });
        this.knownNames.set(
          scope.topicPrefix,
          tails.map((t) => t.name),
        );
        return tails;
      } catch (err) {
        if (!(err instanceof StreamUnavailableError) || Date.now() - started > UNAVAILABLE_LIMIT_MS)
          throw err;
        if (timeoutMs !== UNAVAILABLE_RETRY_MS)
          this.log.warn({ err }, 'jetstream does not answer: asking again');
        timeoutMs = UNAVAILABLE_RETRY_MS;
        await sleep(UNAVAILABLE_PAUSE_MS);
      }
    }
  }

  async open(listener: SinkListener, scope: SinkScope): Promise<Sink> {
    const { ackTimeoutMs, stream } = this.settings;
    if (!(await this.link.waitUp(ackTimeoutMs))) {
      throw new PublishError(`the NATS connection is down (waited ${ackTimeoutMs} ms for it)`);
    }
    if (stream && (await ensureStream(this.nc, stream))) {
      this.log.info({ stream: stream.name }, 'jetstream stream created');
    }
    const tails = await this.readTails(scope);
    await this.checkSuspects(scope);
    for (const t of tails) {
      this.log.info(
        { stream: t.name, lastSeq: t.lastSeq, lastEvent: t.last?.id ?? null },
        'jetstream stream captures this source: publishing after its last sequence',
      );
      if (t.lastGone && scope.replay) {
        this.log.warn(
          { stream: t.name, lastSeq: t.lastSeq },
          "the stream's last message is gone (removed by its limits or a purge): which replayed events it " +
            'holds cannot be told, so they are sent again and only its duplicate window drops them',
        );
      }
    }
    const suspect = (stream: string, from: number, to: number) => this.suspects.push({ stream, from, to });
    return new JetStreamSink(
      this.nc,
      this.link,
      this.internals,
      listener,
      this.settings,
      {
        topicPrefix: scope.topicPrefix,
        tails,
        slotLine: slotHeaderLine(scope.source.slot),
        skipStored: scope.replay,
        suspect,
      },
      this.log,
    );
  }
}

/**
 * Publishing to JetStream with a bounded window of unacknowledged messages: the `Sink` of
 * `sink.ts` for JetStream.
 *
 * Each event is sent as a core NATS publish (an `HPUB` frame, written in batches by `HpubBatch`)
 * whose reply subject is `<inbox>.<seq>`; one wildcard subscription receives every PubAck and
 * matches it to its event by `seq`. This avoids a timer, a promise and an error object per
 * message (what `js.publish()` costs) and lets thousands of publishes be in flight at once.
 *
 * Contract: an event counts as stored only when its PubAck arrives without error. A missing
 * stream (no responders), an error PubAck or a PubAck that does not arrive within the ack
 * timeout is reported once, as a `PublishError`, and the sink stops accepting events.
 */
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { putAscii, putBytes, putDecimal } from '../bytes.js';
import type { EventSeq } from '../checkpoint/checkpointer.js';
import { PublishError } from '../errors.js';
import type { EventMeta } from '../event/change-event.js';
import { eventId, writeEventId } from '../event/event-id.js';
import { JsonBytes, utf8 } from '../event/json-bytes.js';
import type { Logger } from '../ops/log.js';
import { HpubBatch } from './hpub-batch.js';
import { InFlight } from './in-flight.js';
import { replySubjectBytes, type NatsInternals } from './nats-internals.js';
import type { Sink, SinkFactory, SinkListener } from './sink.js';
import { ensureStream, type StreamSettings } from './stream-setup.js';

/** Subjects whose bytes are kept at most (tables × actions, and message prefixes). */
const MAX_CACHED_SUBJECTS = 10_000;

/** The headers sent with every event besides `Nats-Msg-Id`. */
export const Header = {
  MsgId: 'Nats-Msg-Id',
  Lsn: 'Pgwalstreams-Lsn',
  Xid: 'Pgwalstreams-Xid',
  Position: 'Pgwalstreams-Position',
  Transactional: 'Pgwalstreams-Transactional',
} as const;

/** Options of the sink. */
export interface SinkOptions {
  /** How long to wait for a PubAck before the publish counts as failed. */
  ackTimeoutMs: number;
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
const END = utf8('\r\n\r\n');
/** The fixed parts of a header section, the id (36 bytes) and two numbers (16 bytes each), at most. */
const HEADER_BYTES =
  MSG_ID.length + 36 + LSN.length + NOT_TRANSACTIONAL.length + POSITION.length + END.length + 32;

/**
 * Writes the header section of an event into `out` (from its start) and returns it:
 * `Nats-Msg-Id`, then the transaction metadata. ASCII only (ids, LSNs and numbers).
 */
export function writeHeaderBlock(out: JsonBytes, meta: EventMeta): Buffer {
  out.reset();
  out.ensure(HEADER_BYTES + meta.lsn.length);
  const buf = out.buf;
  let p = putBytes(buf, 0, MSG_ID);
  p = writeEventId(meta.idPrefix, meta.idNumber, buf, p);
  p = putBytes(buf, p, LSN);
  p = putAscii(buf, p, meta.lsn);
  if (meta.xid === null) {
    p = putBytes(buf, p, NOT_TRANSACTIONAL);
  } else {
    p = putBytes(buf, p, XID);
    p = putDecimal(buf, p, meta.xid);
  }
  if (meta.position !== null) {
    p = putBytes(buf, p, POSITION);
    p = putDecimal(buf, p, meta.position);
  }
  out.pos = putBytes(buf, p, END);
  return out.view();
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

/** A JetStream publisher for one replication session. */
export class JetStreamSink implements Sink {
  private readonly inbox: string;
  private readonly inboxBytes: Buffer;
  private readonly subjects = new Map<string, Buffer>();
  /** Each event's header section is written here, then copied into its frame. */
  private readonly headers = new JsonBytes(256);
  private readonly batch: HpubBatch;
  private readonly subscription: Subscription;
  private readonly pending: InFlight;
  private readonly timer: NodeJS.Timeout;
  private failed = false;

  constructor(
    private readonly nc: NatsConnection,
    internals: NatsInternals,
    private readonly listener: SinkListener,
    private readonly options: SinkOptions,
  ) {
    this.batch = new HpubBatch(internals.send);
    this.pending = new InFlight(options.window);
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
    this.timer = setInterval(
      () => this.checkTimeouts(),
      Math.max(50, Math.min(1000, options.ackTimeoutMs / 4)),
    );
    this.timer.unref();
  }

  /**
   * Publishes to JetStream. `seq` numbers the event; `meta` gives its `Nats-Msg-Id` (the event id)
   * and the `Pgwalstreams-Lsn`, `-Xid` and `-Position` headers (`Pgwalstreams-Transactional: false`
   * on a message outside a transaction).
   */
  publish(seq: EventSeq, subject: string, payload: Uint8Array, meta: EventMeta): void {
    if (this.failed) return;
    if (this.nc.isClosed()) {
      this.fail(new PublishError(`publish to ${subject} failed: the NATS connection is closed`, { subject }));
      return;
    }
    const max = this.nc.info?.max_payload ?? Infinity;
    const headers = writeHeaderBlock(this.headers, meta);
    const size = this.batch.add(this.subjectBytes(subject), this.inboxBytes, seq, headers, payload, max);
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
    this.pending.add(seq, subject, Date.now());
  }

  /** A subject's bytes, encoded once (the cache is emptied if many subjects come and go). */
  private subjectBytes(subject: string): Buffer {
    let bytes = this.subjects.get(subject);
    if (!bytes) {
      if (this.subjects.size >= MAX_CACHED_SUBJECTS) this.subjects.clear();
      bytes = utf8(subject);
      this.subjects.set(subject, bytes);
    }
    return bytes;
  }

  /** Stops listening for PubAcks. Unacknowledged events stay unacknowledged. */
  close(): void {
    clearInterval(this.timer);
    this.subscription.unsubscribe();
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
              `no JetStream stream captures subject ${subject}: create a stream whose subjects include it ` +
                `(for example "${subject.split('.')[0]}.>"), or set nats.stream in the configuration to create one`,
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
        const e = parsed.error;
        this.fail(
          new PublishError(
            `jetstream did not store an event on ${subject}: ${e?.description ?? 'no sequence in PubAck'}` +
              (e?.err_code ? ` (err_code ${e.err_code})` : ''),
            { subject },
          ),
        );
        return;
      }
    }
    const sentAt = this.pending.remove(seq);
    this.listener.acked(seq, Date.now() - sentAt);
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

  private fail(err: PublishError): void {
    if (this.failed) return;
    this.failed = true;
    this.listener.failed(err);
  }
}

/**
 * Opens a `JetStreamSink` for each session over one NATS connection, creating the configured
 * stream first when it is missing.
 */
export class JetStreamSinkFactory implements SinkFactory {
  constructor(
    private readonly nc: NatsConnection,
    private readonly internals: NatsInternals,
    private readonly settings: JetStreamSettings,
    private readonly log: Logger,
  ) {}

  async open(listener: SinkListener): Promise<Sink> {
    const { stream } = this.settings;
    if (stream && (await ensureStream(this.nc, stream))) {
      this.log.info({ stream: stream.name }, 'jetstream stream created');
    }
    return new JetStreamSink(this.nc, this.internals, listener, this.settings);
  }
}

/**
 * Publishing to JetStream with a bounded window of unacknowledged messages.
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
import { type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { PublishError } from '../errors.js';
import type { EventMeta } from '../event/change-event.js';
import { eventId, writeEventId } from '../event/event-id.js';
import { putAscii, putBytes, putDecimal } from '../bytes.js';
import { JsonBytes, utf8 } from '../event/json-bytes.js';
import { HpubBatch, type SendBytes } from './hpub-batch.js';
import { InFlight } from './in-flight.js';

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

/** Callbacks from the sink to the pipeline. */
export interface SinkListener {
  /** JetStream stored event `seq` (or already had it: `duplicate`), `latencyMs` after its publish. */
  acked(seq: number, duplicate: boolean, latencyMs: number): void;
  /** An event could not be stored. Called at most once; the sink is unusable afterwards. */
  failed(err: PublishError): void;
}

/** Options of the sink. */
export interface SinkOptions {
  /** How long to wait for a PubAck before the publish counts as failed. */
  ackTimeoutMs: number;
  /** Events expected in flight at most (the publish window); more are handled, less efficiently. */
  window: number;
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

/**
 * The connection's own command queue, which nats.js 3.4 exposes as `protocol.sendCommand`, and
 * its `flushPending`: bytes given to it go out in order with the client's other commands, are held
 * while the connection is down and sent after a reconnect, as `publish()` does with its own
 * frames. Each batch is written at once (it is already a batch: queueing it for nats.js to join
 * with the next one would copy both). The nats.js version is pinned in package.json; a version
 * without these is refused here rather than failing later.
 */
function commandQueue(nc: NatsConnection): SendBytes {
  const protocol = (nc as unknown as { protocol?: { sendCommand?: unknown; flushPending?: unknown } })
    .protocol;
  const sendCommand = protocol?.sendCommand;
  const flushPending = protocol?.flushPending;
  if (typeof sendCommand !== 'function' || typeof flushPending !== 'function') {
    throw new Error(
      'the installed nats.js client has no protocol.sendCommand and flushPending: install the @nats-io/transport-node version pgwalstreams pins',
    );
  }
  return (bytes) => {
    (sendCommand as (cmd: Uint8Array) => void).call(protocol, bytes);
    (flushPending as () => void).call(protocol);
  };
}

interface PubAckBody {
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

const PLAIN_PUBACK = Buffer.from('{"stream":');
const TRUE_END = Buffer.from('true}');

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

/** True when the PubAck ends with `true}`, which only `"duplicate":true` produces. */
export function pubAckEndsWithTrue(data: Uint8Array): boolean {
  const start = data.length - TRUE_END.length;
  for (let i = 0; i < TRUE_END.length; i++) if (data[start + i] !== TRUE_END[i]) return false;
  return true;
}

/**
 * The event number at the end of a PubAck's subject `<inbox><seq>`; `from` is the inbox's length
 * (ASCII, so the same in characters and bytes). nats.js 3.4 keeps the subject's bytes in
 * `_msg.subject` and decodes them into a string only when `subject` is read: the number is read
 * from the bytes when they are there, from the string otherwise.
 */
export function replySeq(msg: Msg, from: number): number {
  const bytes = (msg as unknown as { _msg?: { subject?: unknown } })._msg?.subject;
  let n = 0;
  if (bytes instanceof Uint8Array) {
    for (let i = from; i < bytes.length; i++) n = n * 10 + bytes[i]! - 48;
    return n;
  }
  const subject = msg.subject;
  for (let i = from; i < subject.length; i++) n = n * 10 + subject.charCodeAt(i) - 48;
  return n;
}

/** A JetStream publisher for one replication session. */
export class JetStreamSink {
  private readonly inbox: string;
  private readonly inboxBytes: Buffer;
  private readonly subjects = new Map<string, Buffer>();
  /** Each event's header section is written here, then copied into its frame. */
  private readonly headers = new JsonBytes(256);
  private readonly batch: HpubBatch;
  private readonly subscription: Subscription;
  private readonly pending: InFlight;
  private readonly timer: NodeJS.Timeout;
  private failure: PublishError | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly listener: SinkListener,
    private readonly options: SinkOptions,
  ) {
    this.batch = new HpubBatch(commandQueue(nc));
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
   * Publishes to JetStream. `seq` numbers the event (1, 2, 3… in the order of publishing);
   * `meta` gives its `Nats-Msg-Id` (the event id) and the `Pgwalstreams-Lsn`, `-Xid` and
   * `-Position` headers (`Pgwalstreams-Transactional: false` on a message outside a transaction).
   */
  publish(seq: number, subject: string, payload: string | Uint8Array, meta: EventMeta): void {
    if (this.failure) return;
    if (this.nc.isClosed()) {
      this.fail(new PublishError(`publish to ${subject} failed: the NATS connection is closed`, { subject }));
      return;
    }
    const max = this.nc.info?.max_payload ?? Infinity;
    const body = typeof payload === 'string' ? utf8(payload) : payload;
    const headers = writeHeaderBlock(this.headers, meta);
    const size = this.batch.add(this.subjectBytes(subject), this.inboxBytes, seq, headers, body, max);
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

  /** Events published and not yet acknowledged. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** The failure that stopped the sink, if any. */
  get error(): PublishError | null {
    return this.failure;
  }

  /** Stops listening for PubAcks. Unacknowledged events stay unacknowledged. */
  close(): void {
    clearInterval(this.timer);
    this.subscription.unsubscribe();
  }

  private reply(msg: Msg): void {
    if (this.failure) return;
    const seq = replySeq(msg, this.inbox.length);
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
    let duplicate: boolean;
    if (isPlainPubAck(data)) {
      duplicate = pubAckEndsWithTrue(data);
    } else {
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
      duplicate = parsed.duplicate === true;
    }
    const sentAt = this.pending.remove(seq);
    this.listener.acked(seq, duplicate, Date.now() - sentAt);
  }

  private checkTimeouts(): void {
    if (this.failure) return;
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
    if (this.failure) return;
    this.failure = err;
    this.listener.failed(err);
  }
}

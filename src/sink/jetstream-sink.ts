/**
 * Publishing to JetStream with a bounded window of unacknowledged messages.
 *
 * Each event is sent with a core NATS publish whose reply subject is `<inbox>.<seq>`; one
 * wildcard subscription receives every PubAck and matches it to its event by `seq`. This
 * avoids a timer, a promise and an error object per message (what `js.publish()` costs) and
 * lets thousands of publishes be in flight at once.
 *
 * Contract: an event counts as stored only when its PubAck arrives without error. A missing
 * stream (no responders), an error PubAck or a PubAck that does not arrive within the ack
 * timeout is reported once, as a `PublishError`, and the sink stops accepting events.
 */
import {
  createInbox,
  headers,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { PublishError } from '../errors.js';
import type { EventMeta } from '../event/change-event.js';

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
}

/** The size of headers on the wire: `NATS/1.0\r\n`, `key: value\r\n` each, and `\r\n`. */
function headerSize(h: MsgHdrs): number {
  let size = 12;
  for (const [key, values] of h)
    for (const v of values) size += Buffer.byteLength(key) + Buffer.byteLength(v) + 4;
  return size;
}

interface PendingPublish {
  subject: string;
  sentAt: number;
}

interface PubAckBody {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

/** A JetStream publisher for one replication session. */
export class JetStreamSink {
  private readonly inbox: string;
  private readonly subscription: Subscription;
  private readonly pending = new Map<number, PendingPublish>();
  private readonly timer: NodeJS.Timeout;
  private failure: PublishError | null = null;

  constructor(
    private readonly nc: NatsConnection,
    private readonly listener: SinkListener,
    private readonly options: SinkOptions,
  ) {
    this.inbox = createInbox('_pgwalstreams') + '.';
    this.subscription = nc.subscribe(this.inbox + '*', {
      callback: (err, msg) =>
        err ? this.fail(new PublishError('pubAck subscription failed', { cause: err })) : this.reply(msg),
    });
    this.timer = setInterval(
      () => this.checkTimeouts(),
      Math.max(50, Math.min(1000, options.ackTimeoutMs / 4)),
    );
    this.timer.unref();
  }

  /**
   * Publishes to JetStream. `seq` numbers the event; `msgId` becomes its `Nats-Msg-Id`; `meta`
   * becomes the `Pgwalstreams-Lsn`, `-Xid` and `-Position` headers (`Pgwalstreams-Transactional:
   * false` on a message outside a transaction).
   */
  publish(seq: number, subject: string, msgId: string, payload: string | Uint8Array, meta: EventMeta): void {
    if (this.failure) return;
    const h = headers();
    h.set(Header.MsgId, msgId);
    h.set(Header.Lsn, meta.lsn);
    if (meta.xid === null) h.set(Header.Transactional, 'false');
    else h.set(Header.Xid, String(meta.xid));
    if (meta.position !== null) h.set(Header.Position, String(meta.position));
    try {
      this.nc.publish(subject, payload, { headers: h, reply: this.inbox + seq });
    } catch (cause) {
      this.fail(
        this.tooLarge(subject, msgId, payload, headerSize(h)) ??
          new PublishError(`publish to ${subject} failed`, { cause, subject }),
      );
      return;
    }
    this.pending.set(seq, { subject, sentAt: Date.now() });
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

  /** An error naming the fix when `payload` is over the server's `max_payload`, else null. */
  private tooLarge(
    subject: string,
    msgId: string,
    payload: string | Uint8Array,
    headerSize: number,
  ): PublishError | null {
    const max = this.nc.info?.max_payload;
    const size = (typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength) + headerSize;
    if (max === undefined || size <= max) return null;
    return new PublishError(
      `event ${msgId} on ${subject} is ${size} bytes with its headers, more than the NATS server's max_payload of ${max} bytes: ` +
        'raise max_payload in the nats-server configuration (up to 64MB); pgwalstreams retries meanwhile',
      { subject },
    );
  }

  private reply(msg: Msg): void {
    if (this.failure) return;
    const seq = Number(msg.subject.slice(this.inbox.length));
    const p = this.pending.get(seq);
    if (!p) return; // a late reply for an event already failed or never sent by this session
    if (msg.headers?.hasError) {
      const code = msg.headers.code;
      this.fail(
        code === 503
          ? new PublishError(
              `no JetStream stream captures subject ${p.subject}: create a stream whose subjects include it ` +
                `(for example "${p.subject.split('.')[0]}.>"), or set nats.stream in the configuration to create one`,
              { subject: p.subject },
            )
          : new PublishError(`publish to ${p.subject} failed: ${code} ${msg.headers.description}`, {
              subject: p.subject,
            }),
      );
      return;
    }
    let body: PubAckBody;
    try {
      body = msg.json<PubAckBody>();
    } catch (cause) {
      this.fail(new PublishError(`unreadable PubAck for ${p.subject}`, { cause, subject: p.subject }));
      return;
    }
    if (body.error || body.seq === undefined) {
      const e = body.error;
      this.fail(
        new PublishError(
          `jetstream did not store an event on ${p.subject}: ${e?.description ?? 'no sequence in PubAck'}` +
            (e?.err_code ? ` (err_code ${e.err_code})` : ''),
          { subject: p.subject },
        ),
      );
      return;
    }
    this.pending.delete(seq);
    this.listener.acked(seq, body.duplicate === true, Date.now() - p.sentAt);
  }

  private checkTimeouts(): void {
    if (this.failure) return;
    const oldest = this.pending.values().next();
    if (oldest.done) return;
    const waited = Date.now() - oldest.value.sentAt;
    if (waited > this.options.ackTimeoutMs) {
      this.fail(
        new PublishError(
          `no PubAck from jetstream for ${oldest.value.subject} within ${this.options.ackTimeoutMs} ms ` +
            `(${this.pending.size} events unacknowledged): is nats-server up and the stream healthy?`,
          { subject: oldest.value.subject },
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

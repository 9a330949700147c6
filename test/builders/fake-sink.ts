/**
 * A sink for unit tests of a session, in the manner of supabase/etl's faulty destinations: it
 * records every event and acknowledges only when the test says so, so a test can make it stall,
 * acknowledge out of order, drop an acknowledgement or fail.
 */
import type { EventSeq } from '../../src/checkpoint/checkpointer.js';
import type { PublishError } from '../../src/errors.js';
import type { EventMeta } from '../../src/event/change-event.js';
import type { Sink, SinkFactory, SinkListener, SinkScope } from '../../src/sink/sink.js';

/** An event as the sink received it. */
export interface Published {
  seq: EventSeq;
  subject: string;
  body: string;
  meta: EventMeta;
}

/** Records events; acknowledges or fails them on the test's command. */
export class RecordingSink implements Sink {
  readonly published: Published[] = [];
  closed = false;

  constructor(private readonly listener: SinkListener) {}

  private readonly sentAt = new Map<number, number>();

  publish(seq: EventSeq, subject: string, payload: Uint8Array, meta: EventMeta): void {
    this.published.push({ seq, subject, body: Buffer.from(payload).toString('utf8'), meta });
    this.sentAt.set(seq, Date.now());
  }

  oldestUnackedMs(now: number): number {
    const first = this.sentAt.values().next();
    return first.done ? 0 : now - first.value;
  }

  close(): void {
    this.closed = true;
  }

  /** Acknowledges the events with these numbers, in this order. */
  ack(...seqs: number[]): void {
    for (const seq of seqs) {
      this.sentAt.delete(seq);
      this.listener.acked(seq as EventSeq, 1);
    }
  }

  /** Says the destination held these events already (a sink does so instead of sending them). */
  stored(...seqs: number[]): void {
    for (const seq of seqs) {
      this.sentAt.delete(seq);
      this.listener.stored(seq as EventSeq);
    }
  }

  /** Acknowledges every event published so far, in publish order. */
  ackAll(): void {
    this.ack(...this.published.map((p) => p.seq));
  }

  /** Reports that an event could not be stored. */
  fail(err: PublishError): void {
    this.listener.failed(err);
  }
}

/** Opens `RecordingSink`s and keeps the last one opened; `refuse` makes `open` fail with it. */
export class RecordingSinks implements SinkFactory {
  sink: RecordingSink | null = null;
  opened = 0;

  constructor(private readonly refuse?: Error) {}

  /** What the last `open` was given. */
  scope: SinkScope | null = null;

  open(listener: SinkListener, scope: SinkScope): Promise<Sink> {
    this.opened++;
    this.scope = scope;
    if (this.refuse) return Promise.reject(this.refuse);
    this.sink = new RecordingSink(listener);
    return Promise.resolve(this.sink);
  }
}

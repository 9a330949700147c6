/**
 * Which LSN may be confirmed to PostgreSQL.
 *
 * Contract: the flush LSN only ever moves to the end LSN of a commit whose events, and every
 * event published before them, JetStream has acknowledged. A keepalive position moves it only
 * when no transaction is open and nothing is in flight. It never moves backwards.
 *
 * Events are numbered 1, 2, 3, … in publish order (`publish()`). Acknowledgements may arrive in
 * any order; the checkpointer tracks the highest number below which every event is acknowledged.
 */
import type { CommitEndLsn, FlushLsn, ReceivedLsn } from '../source/lsn.js';

declare const numbered: unique symbol;
/**
 * The number of an event in its session: 1, 2, 3, … in publish order, given by
 * `Checkpointer.publish`. Not an event's position in its transaction, and not a JetStream sequence.
 */
export type EventSeq = number & { readonly [numbered]: 'event-seq' };

interface PendingCommit {
  /** Number of the last event published before this commit (0 when none yet). */
  lastSeq: number;
  endLsn: CommitEndLsn;
  /** Commit time (ms since the Unix epoch) of the newest transaction in this entry. */
  commitTimeMs: number;
}

/** Called when a commit's events are all acknowledged, with its commit time (ms since the Unix epoch). */
export type ConfirmedListener = (endLsn: CommitEndLsn, commitTimeMs: number) => void;

/** Tracks published and acknowledged events and the commits that wait on them. */
export class Checkpointer {
  private flushed: FlushLsn;
  private published = 0;
  private ackedThrough = 0;
  private readonly ackedAhead = new Set<number>();
  private readonly pending: PendingCommit[] = [];
  private head = 0;

  /**
   * @param start the slot's confirmed position at the start of the session.
   * @param confirmed told of each commit as it becomes confirmable (for latency metrics).
   */
  constructor(
    start: FlushLsn,
    private readonly confirmed?: ConfirmedListener,
  ) {
    this.flushed = start;
  }

  /** The LSN that may be confirmed as flushed now. */
  get flushLsn(): FlushLsn {
    return this.flushed;
  }

  /** Events published and not yet acknowledged. */
  get inFlight(): number {
    return this.published - this.ackedThrough - this.ackedAhead.size;
  }

  /** Records that one more event goes to the sink and returns its number (1, 2, 3, …). */
  publish(): EventSeq {
    return ++this.published as EventSeq;
  }

  /** Records JetStream's acknowledgement of event `seq`; a repeated or unknown number is ignored. */
  acked(seq: EventSeq): void {
    if (seq <= this.ackedThrough || seq > this.published) return;
    if (seq !== this.ackedThrough + 1) {
      this.ackedAhead.add(seq);
      return;
    }
    this.ackedThrough = seq;
    while (this.ackedAhead.delete(this.ackedThrough + 1)) this.ackedThrough++;
    this.release();
  }

  /** Records a commit: its end LSN may be confirmed once every event published so far is acknowledged. */
  commit(endLsn: CommitEndLsn, commitTimeMs = 0): void {
    const tail = this.pending.length > this.head ? this.pending[this.pending.length - 1] : undefined;
    if (tail && tail.lastSeq === this.published) {
      if (endLsn > tail.endLsn) tail.endLsn = endLsn;
      tail.commitTimeMs = commitTimeMs;
    } else {
      this.pending.push({ lastSeq: this.published, endLsn, commitTimeMs });
    }
    this.release();
  }

  /**
   * Records a keepalive's WAL position. It is confirmed only when nothing is in flight and no
   * transaction is open (`inTransaction`), so that the slot advances on an idle or filtered database.
   */
  idle(walEnd: ReceivedLsn, inTransaction: boolean): void {
    if (!inTransaction && this.inFlight === 0 && this.head === this.pending.length && walEnd > this.flushed) {
      this.flushed = walEnd as bigint as FlushLsn;
    }
  }

  private release(): void {
    while (this.head < this.pending.length) {
      const next = this.pending[this.head]!;
      if (next.lastSeq > this.ackedThrough) break;
      if (next.endLsn > this.flushed) this.flushed = next.endLsn as bigint as FlushLsn;
      this.head++;
      this.confirmed?.(next.endLsn, next.commitTimeMs);
    }
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending.splice(0, this.head);
      this.head = 0;
    }
  }
}

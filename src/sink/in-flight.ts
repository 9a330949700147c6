/**
 * The events published and not yet acknowledged, by sequence number.
 *
 * Sequence numbers grow by one per publish and PubAcks come back nearly in order, so the events
 * live in a ring indexed by `seq` modulo its capacity, in typed arrays: nothing is allocated per
 * event. (A map entry per event lives as long as its PubAck takes, long enough to be promoted to
 * the old generation by the young-generation collector; that was most of the heap growth.) An
 * event still waiting when its slot is needed again, because its PubAck is much later than the
 * others, moves to a map of stragglers, which keeps it until its PubAck or the ack timeout.
 */

/** An event waiting for its PubAck. */
export interface Waiting {
  subject: string;
  sentAt: number;
}

/** A straggler: also the stream sequence it expected its stream to end with, and its chain. */
interface Straggler extends Waiting {
  expected: number;
  chain: number;
}

export class InFlight {
  private readonly mask: number;
  /** Sequence number held by each slot; 0 for a free slot (sequence numbers start at 1). */
  private readonly seqs: Float64Array;
  private readonly sentAt: Float64Array;
  private readonly expected: Float64Array;
  private readonly chains: Int32Array;
  private readonly subjects: (string | undefined)[];
  private readonly stragglers = new Map<number, Straggler>();
  private inRing = 0;
  /** No event in the ring has a lower sequence number. */
  private oldestSeq = 1;

  /** `capacity` is rounded up to a power of two; the publish window is a good size. */
  constructor(capacity: number) {
    let size = 1024;
    while (size < capacity) size *= 2;
    this.mask = size - 1;
    this.seqs = new Float64Array(size);
    this.sentAt = new Float64Array(size);
    this.expected = new Float64Array(size);
    this.chains = new Int32Array(size);
    this.subjects = new Array<string | undefined>(size).fill(undefined);
  }

  /** Events waiting. */
  get size(): number {
    return this.inRing + this.stragglers.size;
  }

  /**
   * Records event `seq` (≥ 1, greater than every earlier one) sent to `subject` at `sentAt`,
   * expecting its stream to end with sequence `expected`; `chain` numbers its stream for
   * `removeThrough`.
   */
  add(seq: number, subject: string, sentAt: number, expected = 0, chain = 0): void {
    const i = seq & this.mask;
    const held = this.seqs[i]!;
    if (held !== 0) {
      this.stragglers.set(held, {
        subject: this.subjects[i]!,
        sentAt: this.sentAt[i]!,
        expected: this.expected[i]!,
        chain: this.chains[i]!,
      });
      this.inRing--;
    }
    this.seqs[i] = seq;
    this.sentAt[i] = sentAt;
    this.expected[i] = expected;
    this.chains[i] = chain;
    this.subjects[i] = subject;
    this.inRing++;
  }

  /** The subject of event `seq` if it is waiting, else undefined. */
  subjectOf(seq: number): string | undefined {
    const i = seq & this.mask;
    return this.seqs[i] === seq ? this.subjects[i] : this.stragglers.get(seq)?.subject;
  }

  /** The stream sequence event `seq` expected, if it is waiting, else -1. */
  expectedOf(seq: number): number {
    const i = seq & this.mask;
    return this.seqs[i] === seq ? this.expected[i]! : (this.stragglers.get(seq)?.expected ?? -1);
  }

  /** Stops waiting for event `seq`; returns when it was sent, or -1 if it was not waiting. */
  remove(seq: number): number {
    const i = seq & this.mask;
    if (this.seqs[i] === seq) {
      this.seqs[i] = 0;
      this.subjects[i] = undefined;
      this.inRing--;
      return this.sentAt[i]!;
    }
    const straggler = this.stragglers.get(seq);
    if (!straggler) return -1;
    this.stragglers.delete(seq);
    return straggler.sentAt;
  }

  /**
   * Stops waiting for every event of `chain` up to `seq`, oldest first, and tells `done` of each
   * with when it was sent. Returns how many there were.
   */
  removeThrough(seq: number, chain: number, done: (seq: number, sentAt: number) => void): number {
    let n = 0;
    // Stragglers enter the map in sequence order (a ring slot is taken again only by a later event).
    for (const [s, straggler] of this.stragglers) {
      if (s > seq) break;
      if (straggler.chain !== chain) continue;
      this.stragglers.delete(s);
      done(s, straggler.sentAt);
      n++;
    }
    // Every event below `oldestSeq` is gone; it moves up as long as no other chain's event is left.
    let s = this.oldestSeq;
    let advance = true;
    for (; s <= seq && this.inRing > 0; s++) {
      const i = s & this.mask;
      if (this.seqs[i] === s) {
        if (this.chains[i] !== chain) {
          advance = false;
          continue;
        }
        this.seqs[i] = 0;
        this.subjects[i] = undefined;
        this.inRing--;
        done(s, this.sentAt[i]!);
        n++;
      }
      if (advance) this.oldestSeq = s + 1;
    }
    if (advance) this.oldestSeq = Math.max(this.oldestSeq, s);
    return n;
  }

  /** The event waiting longest, if any. */
  oldest(): Waiting | undefined {
    const first = this.stragglers.values().next();
    if (!first.done) return { subject: first.value.subject, sentAt: first.value.sentAt };
    if (this.inRing === 0) return undefined;
    while (this.seqs[this.oldestSeq & this.mask] !== this.oldestSeq) this.oldestSeq++;
    const i = this.oldestSeq & this.mask;
    return { subject: this.subjects[i]!, sentAt: this.sentAt[i]! };
  }
}

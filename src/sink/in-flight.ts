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

/** A straggler: also the stream sequence it expected its stream to end with. */
interface Straggler extends Waiting {
  expected: number;
}

export class InFlight {
  private readonly mask: number;
  /** Sequence number held by each slot; 0 for a free slot (sequence numbers start at 1). */
  private readonly seqs: Float64Array;
  private readonly sentAt: Float64Array;
  private readonly expected: Float64Array;
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
    this.subjects = new Array<string | undefined>(size).fill(undefined);
  }

  /** Events waiting. */
  get size(): number {
    return this.inRing + this.stragglers.size;
  }

  /**
   * Records event `seq` (≥ 1, greater than every earlier one) sent to `subject` at `sentAt`,
   * expecting its stream to end with sequence `expected`.
   */
  add(seq: number, subject: string, sentAt: number, expected = 0): void {
    const i = seq & this.mask;
    const held = this.seqs[i]!;
    if (held !== 0) {
      this.stragglers.set(held, {
        subject: this.subjects[i]!,
        sentAt: this.sentAt[i]!,
        expected: this.expected[i]!,
      });
      this.inRing--;
    }
    this.seqs[i] = seq;
    this.sentAt[i] = sentAt;
    this.expected[i] = expected;
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

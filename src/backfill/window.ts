/**
 * The DBLog watermarks of a chunk, and the keys the stream changed between them.
 *
 * A chunk is read between two logical messages the backfill writes into the WAL: a low watermark
 * before the query and a high one after it. The rows the query returned are as the table was at
 * some moment between them. Every change of the table that the stream carries between the two
 * watermarks is newer than the chunk's row of its key, or as new: such rows are dropped and the
 * change stands for them. The rows left are published at the high watermark, so in the stream each
 * comes after every change of its key before the chunk and before every change after it: a
 * consumer applying the stream in order never has an older row overwrite a newer change, and a row
 * deleted meanwhile does not come back.
 *
 * Pure: the session hands over changes and watermark messages, the runner the chunk's rows.
 */
import type { RowChange } from '../event/transaction.js';
import { ColumnKind } from '../source/pgoutput/tuple.js';
import type { Tuple } from '../source/pgoutput/messages.js';
import { rowKeyOf } from './row-key.js';

/** Prefix of the watermark messages; the router never publishes them. */
export { WATERMARK_PREFIX } from '../source/slot-status.js';

/** Which watermark a message is. */
export type WatermarkMark = 'low' | 'high';

/**
 * The content of a watermark message: the backfill, the chunk, which mark, and a token drawn for
 * the attempt (a chunk read again after a restart writes new watermarks; the old ones, replayed
 * from the slot, carry another token and are ignored).
 */
export interface Watermark {
  backfill: string;
  chunk: number;
  token: string;
  mark: WatermarkMark;
}

/** The content of a watermark message, as written into the WAL. */
export function encodeWatermark(w: Watermark): string {
  return JSON.stringify({ backfill: w.backfill, chunk: w.chunk, token: w.token, mark: w.mark });
}

/** Reads a watermark message's content; null when it is not one. */
export function decodeWatermark(content: Uint8Array): Watermark | null {
  try {
    const v = JSON.parse(Buffer.from(content).toString('utf8')) as Partial<Watermark>;
    if (typeof v.backfill !== 'string' || typeof v.chunk !== 'number' || typeof v.token !== 'string')
      return null;
    if (v.mark !== 'low' && v.mark !== 'high') return null;
    return { backfill: v.backfill, chunk: v.chunk, token: v.token, mark: v.mark };
  } catch {
    return null;
  }
}

/** The keys one table's changes touched between a chunk's watermarks. */
export class ChunkWindow {
  private readonly keys = new Set<string>();
  /** Set when a change could not be matched to a key (a TRUNCATE, a key left out): drop every row. */
  private all = false;
  /** True between the low watermark and the high one. */
  open = false;
  /** True once the low watermark went by. */
  sawLow = false;
  /** True once the high watermark went by. */
  sawHigh = false;

  /**
   * @param relationId the table's oid (the relation id pgoutput gives it).
   * @param keyNames its primary-key columns, in key order.
   */
  constructor(
    readonly relationId: number,
    private readonly keyNames: readonly string[],
  ) {}

  /** The low watermark went by: changes of the table count from now on. */
  low(): void {
    this.open = true;
    this.sawLow = true;
  }

  /** The high watermark went by: no change counts any more. */
  high(): void {
    this.open = false;
    this.sawHigh = true;
  }

  /** A change the stream carries: its old and new keys are remembered while the window is open. */
  changed(change: RowChange): void {
    if (!this.open || change.relation.id !== this.relationId) return;
    if (change.truncate) {
      this.all = true;
      return;
    }
    const indexes = this.keyNames.map((name) => change.relation.columns.findIndex((c) => c.name === name));
    if (indexes.some((i) => i < 0)) {
      this.all = true; // the table's key changed shape under the backfill
      return;
    }
    for (const tuple of [change.newTuple, change.oldTuple]) {
      if (tuple) this.add(tuple, indexes, change);
    }
  }

  private add(tuple: Tuple, indexes: readonly number[], change: RowChange): void {
    // A key column the server left out (an unchanged TOASTed key) is taken from the other image.
    if (indexes.some((i) => tuple.kind(i) === ColumnKind.Unchanged)) {
      if (tuple === change.newTuple && change.oldTuple) return; // the old image has the key
      this.all = true;
      return;
    }
    // The old image of a default replica identity holds the key columns only; others are null.
    this.keys.add(rowKeyOf(indexes.map((i) => tuple.value(i) as string | null)));
  }

  /** True when a chunk row with this key (see `rowKeyOf`) is still to be published. */
  keeps(key: string): boolean {
    return !this.all && !this.keys.has(key);
  }

  /** How many keys were changed in the window (for logs). */
  get changedKeys(): number {
    return this.all ? Infinity : this.keys.size;
  }
}

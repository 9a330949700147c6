/**
 * The values of one row (a TupleData), kept as the message carries them.
 *
 * The decoder records each column's kind and where its bytes are in the message, and checks text
 * to be UTF-8; nothing is copied or decoded. The event encoder copies the bytes it can publish as
 * they are (numbers, JSON, most text), and a value becomes a string only when something asks for
 * it (`value`). A tuple keeps the message's buffer; `detach` copies what it needs, for a tuple
 * kept past the handling of its message.
 */
import { UNCHANGED_TOAST, type TupleValue } from './messages.js';

/** Kinds of a column, as their byte in TupleData; `TextUtf8` (`T`) marks text that is not all ASCII. */
export const ColumnKind = {
  Null: 0x6e, // 'n'
  Unchanged: 0x75, // 'u': an unchanged TOASTed value, not sent
  Text: 0x74, // 't', all ASCII
  TextUtf8: 0x54, // 't' with bytes above 0x7f (checked to be UTF-8)
  Binary: 0x62, // 'b'
} as const;
export type ColumnKind = (typeof ColumnKind)[keyof typeof ColumnKind];

/** One row's values: kind and byte range of each column in `bytes`. */
export class Tuple {
  /**
   * @param bytes the message (or a copy of the part the values are in).
   * @param spans three numbers per column: its kind, and the start and end of its bytes.
   */
  constructor(
    readonly bytes: Buffer,
    private readonly spans: number[],
  ) {}

  /**
   * A row read over SQL as the server's text of each value (null for SQL NULL): the tuple pgoutput
   * would send for it.
   */
  static fromText(values: readonly (string | null)[]): Tuple {
    let size = 0;
    for (const v of values) if (v !== null) size += Buffer.byteLength(v, 'utf8');
    const bytes = Buffer.allocUnsafe(size);
    const spans: number[] = [];
    let at = 0;
    for (const v of values) {
      if (v === null) {
        spans.push(ColumnKind.Null, at, at);
        continue;
      }
      const end = at + bytes.write(v, at, 'utf8');
      spans.push(end - at === v.length ? ColumnKind.Text : ColumnKind.TextUtf8, at, end);
      at = end;
    }
    return new Tuple(bytes, spans);
  }

  /** Number of columns. */
  get length(): number {
    return this.spans.length / 3;
  }

  /** Kind of column `i`. */
  kind(i: number): ColumnKind {
    return this.spans[3 * i] as ColumnKind;
  }

  /** Start of column `i`'s bytes in `bytes`. */
  start(i: number): number {
    return this.spans[3 * i + 1]!;
  }

  /** End of column `i`'s bytes in `bytes`. */
  end(i: number): number {
    return this.spans[3 * i + 2]!;
  }

  /** Column `i`'s value: text as a string, binary as a copy of its bytes, null, or UNCHANGED_TOAST. */
  value(i: number): TupleValue {
    const kind = this.kind(i);
    const start = this.start(i);
    const end = this.end(i);
    switch (kind) {
      case ColumnKind.Null:
        return null;
      case ColumnKind.Unchanged:
        return UNCHANGED_TOAST;
      case ColumnKind.Text:
        return this.bytes.toString('latin1', start, end);
      case ColumnKind.TextUtf8:
        return this.bytes.toString('utf8', start, end);
      default:
        return new Uint8Array(this.bytes.subarray(start, end));
    }
  }

  /** Every column's value (see `value`). */
  values(): TupleValue[] {
    const out: TupleValue[] = [];
    for (let i = 0; i < this.length; i++) out.push(this.value(i));
    return out;
  }

  /** The same values in a buffer of their own, so that the message's buffer can be let go. */
  detach(): Tuple {
    const n = this.length;
    if (n === 0) return this;
    let first = Infinity;
    let last = 0;
    for (let i = 0; i < n; i++) {
      if (this.end(i) > this.start(i)) {
        first = Math.min(first, this.start(i));
        last = Math.max(last, this.end(i));
      }
    }
    if (first === Infinity) first = last = 0;
    const spans = this.spans.map((x, k) => (k % 3 === 0 ? x : Math.max(0, Math.min(x, last) - first)));
    return new Tuple(Buffer.from(this.bytes.subarray(first, last)), spans);
  }
}

/**
 * Rows of `COPY … TO STDOUT` in text format as tuples over the bytes received, the way the
 * decoder keeps a pgoutput row: nothing is copied or decoded for a row without a backslash. Pure.
 *
 * The format: one row per line (`\n`), columns separated by tabs, `\N` for NULL; a backslash
 * escapes the next character: `\b \f \n \r \t \v`, `\\`, an octal byte `\ddd` (1 to 3 digits),
 * a hexadecimal byte `\xh` or `\xhh`, and any other character stands for itself. The connection's
 * client encoding is UTF-8, so the text is UTF-8 as pgoutput's is.
 */
import { ColumnKind, Tuple } from '../source/pgoutput/tuple.js';

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
const N = 0x4e;

/** The byte a backslash and `c` stand for, for the one-letter escapes. */
const SIMPLE_ESCAPES: Record<number, number> = {
  0x62: 0x08, // \b
  0x66: 0x0c, // \f
  0x6e: 0x0a, // \n
  0x72: 0x0d, // \r
  0x74: 0x09, // \t
  0x76: 0x0b, // \v
};

const isOctal = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x37;

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}

/** Splits COPY text into rows of `columns` values; a row may span chunks. */
export class CopyTextRows {
  /** The start of a row whose end has not arrived yet. */
  private rest: Buffer | null = null;

  constructor(private readonly columns: number) {}

  /** The rows completed by `chunk`. */
  push(chunk: Buffer): Tuple[] {
    const buf = this.rest ? Buffer.concat([this.rest, chunk]) : chunk;
    this.rest = null;
    const rows: Tuple[] = [];
    let start = 0;
    for (;;) {
      const end = buf.indexOf(NEWLINE, start);
      if (end < 0) break;
      rows.push(this.row(buf, start, end));
      start = end + 1;
    }
    if (start < buf.length) this.rest = buf.subarray(start);
    return rows;
  }

  /** Throws when the data ended inside a row. */
  end(): void {
    if (this.rest)
      throw new Error(`COPY data ended inside a row (${this.rest.length} bytes after the last row)`);
  }

  /** The row in `buf[start, end)`: spans into `buf`, or into a decoded copy when it has escapes. */
  private row(buf: Buffer, start: number, end: number): Tuple {
    const spans: number[] = [];
    let from = start;
    let ascii = true;
    for (let i = start; i <= end; i++) {
      const c = i === end ? TAB : buf[i]!;
      if (c === TAB) {
        if (i - from === 2 && buf[from] === BACKSLASH && buf[from + 1] === N) {
          spans.push(ColumnKind.Null, from, from);
        } else {
          spans.push(ascii ? ColumnKind.Text : ColumnKind.TextUtf8, from, i);
        }
        from = i + 1;
        ascii = true;
      } else if (c === BACKSLASH) {
        return this.escapedRow(buf, start, end);
      } else if (c > 0x7f) {
        ascii = false;
      }
    }
    this.check(spans);
    return new Tuple(buf, spans);
  }

  /** A row with escapes, decoded into bytes of its own (never longer than the text). */
  private escapedRow(buf: Buffer, start: number, end: number): Tuple {
    const out = Buffer.allocUnsafe(end - start);
    const spans: number[] = [];
    let at = 0;
    let from = 0;
    let ascii = true;
    const close = (isNull: boolean): void => {
      if (isNull) spans.push(ColumnKind.Null, at, at);
      else spans.push(ascii ? ColumnKind.Text : ColumnKind.TextUtf8, from, at);
      from = at;
      ascii = true;
    };
    let fieldStart = start;
    for (let i = start; i <= end; i++) {
      const c = i === end ? TAB : buf[i]!;
      if (c === TAB) {
        close(i - fieldStart === 2 && buf[fieldStart] === BACKSLASH && buf[fieldStart + 1] === N);
        fieldStart = i + 1;
        continue;
      }
      let byte = c;
      if (c === BACKSLASH && i + 1 < end) {
        const e = buf[++i]!;
        if (isOctal(e)) {
          byte = e - 0x30;
          for (let k = 0; k < 2 && isOctal(buf[i + 1]) && i + 1 < end; k++)
            byte = byte * 8 + buf[++i]! - 0x30;
          byte &= 0xff;
        } else if (e === 0x78 && i + 1 < end && hexValue(buf[i + 1]) >= 0) {
          byte = hexValue(buf[++i]);
          if (i + 1 < end && hexValue(buf[i + 1]) >= 0) byte = byte * 16 + hexValue(buf[++i]);
        } else {
          byte = SIMPLE_ESCAPES[e] ?? e;
        }
      }
      if (byte > 0x7f) ascii = false;
      out[at++] = byte;
    }
    this.check(spans);
    return new Tuple(out, spans);
  }

  private check(spans: number[]): void {
    if (spans.length !== this.columns * 3) {
      throw new Error(`a COPY row has ${spans.length / 3} columns where ${this.columns} were expected`);
    }
  }
}

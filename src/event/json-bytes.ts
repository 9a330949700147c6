/**
 * A reusable byte buffer that event JSON is written into.
 *
 * Building an event as a JavaScript string means joining a few dozen pieces, which V8 copies into
 * one flat string before it can be encoded as UTF-8 for the socket: measured on the bench's rows,
 * the joining cost about as much as building the pieces. Here the event is written as bytes
 * straight from the message: column keys and the parts that repeat are encoded once, values that
 * are published as they are (numbers, JSON, text without characters to escape) are copied, and
 * only the values whose text is rewritten go through a string.
 */

/** A buffer grown past this for one large event is let go at the next `reset()`. */
const KEEP_BYTES = 1024 * 1024;

/** Where an event's bytes are written; `view()` is valid until the next `reset()`. */
export class JsonBytes {
  buf: Buffer;
  pos = 0;

  constructor(private readonly size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }

  /** Starts a new event at the beginning of the buffer. */
  reset(): void {
    this.pos = 0;
    if (this.buf.length > KEEP_BYTES) this.buf = Buffer.allocUnsafeSlow(this.size);
  }

  /** The bytes written since `reset()`. */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  /** One byte. */
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Bytes encoded beforehand (keys, names, the parts of an event that repeat). */
  bytes(b: Uint8Array): void {
    this.copy(b, 0, b.length);
  }

  /** Bytes `[start, end)` of `src`. */
  copy(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n > 64) {
      buf.set(src.subarray(start, end), p);
      p += n;
    } else {
      for (let i = start; i < end; i++) buf[p++] = src[i]!;
    }
    this.pos = p;
  }

  /** Any string, as UTF-8. */
  text(s: string): void {
    this.ensure(s.length <= 4096 ? s.length * 3 : Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A non-negative integer (below 2^53) in decimal. */
  uint(n: number): void {
    let digits = 1;
    for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
    this.ensure(digits);
    const buf = this.buf;
    let p = this.pos + digits;
    this.pos = p;
    do {
      buf[--p] = 0x30 + (n % 10);
      n = Math.floor(n / 10);
    } while (n > 0);
  }
}

/** The UTF-8 bytes of a string, for the parts written again and again. */
export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

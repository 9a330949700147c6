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

import { putAscii, putBytes, putDecimal } from '../bytes.js';

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
    // Writes past the end of a buffer are dropped silently: never hand out bytes cut short.
    if (this.pos > this.buf.length)
      throw new Error(`JSON overran its buffer (${this.pos} > ${this.buf.length})`);
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
    this.ensure(end - start);
    this.pos = putBytes(this.buf, this.pos, src, start, end);
  }

  /** A string the caller knows to be ASCII (ids, LSNs). */
  ascii(s: string): void {
    this.ensure(s.length);
    this.pos = putAscii(this.buf, this.pos, s);
  }

  /** Any string, as UTF-8. */
  text(s: string): void {
    this.ensure(s.length <= 4096 ? s.length * 3 : Buffer.byteLength(s, 'utf8'));
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A non-negative integer (below 2^53) in decimal. */
  uint(n: number): void {
    this.ensure(16);
    this.pos = putDecimal(this.buf, this.pos, n);
  }
}

/** The UTF-8 bytes of a string, for the parts written again and again. */
export function utf8(s: string): Buffer {
  return Buffer.from(s, 'utf8');
}

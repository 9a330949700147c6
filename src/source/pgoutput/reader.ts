/**
 * A bounds-checked cursor over the bytes of one replication message, big-endian as on the wire.
 *
 * Every read checks that the buffer holds enough bytes and throws `DecodeError` with the message
 * tag and the offset of the read otherwise, so a truncated message can never yield a value.
 * Reads allocate nothing beyond the value they return; column text is not read into strings at
 * all (`textSpan` checks it and says where it is).
 */
import { isUtf8 } from 'node:buffer';

import { DecodeError } from '../../errors.js';

/** Reads integers, strings and byte runs from a Buffer, throwing `DecodeError` on short input. */
export class ByteReader {
  private readonly buf: Buffer;
  private readonly tag: string;
  private pos: number;

  /**
   * Starts reading `buf` at `offset`. `tag` names the message in errors: a character such as `I`,
   * or `frame` for the outer replication frame.
   */
  constructor(buf: Buffer, tag: string, offset = 0) {
    this.buf = buf;
    this.tag = tag;
    this.pos = offset;
  }

  /** The position of the next read, counted from the start of the buffer. */
  get offset(): number {
    return this.pos;
  }

  /** How many bytes are left after the position of the next read. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Reads an unsigned 8-bit integer. */
  u8(): number {
    const at = this.take(1);
    return this.buf[at]!;
  }

  /** Reads a signed 16-bit integer. */
  i16(): number {
    return this.buf.readInt16BE(this.take(2));
  }

  /** Reads an unsigned 16-bit integer. */
  u16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  /** Reads a signed 32-bit integer. */
  i32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  /** Reads an unsigned 32-bit integer, such as an OID or a transaction id. */
  u32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  /** Reads a signed 64-bit integer, such as a timestamp. */
  i64(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }

  /** Reads an unsigned 64-bit integer, such as an LSN. */
  u64(): bigint {
    return this.buf.readBigUInt64BE(this.take(8));
  }

  /** Reads a NUL-terminated UTF-8 string and moves past its terminator. */
  cstring(): string {
    const start = this.pos;
    const end = this.buf.indexOf(0, start);
    if (end < 0) {
      throw new DecodeError('string has no NUL terminator', this.tag, start);
    }
    const s = this.utf8(start, end);
    this.pos = end + 1;
    return s;
  }

  /** The buffer being read. */
  get buffer(): Buffer {
    return this.buf;
  }

  /**
   * Skips the next `n` bytes, which must be UTF-8 text, and returns where they start: `true` in
   * `ascii` when they are all below 0x80. Invalid UTF-8 throws instead of becoming U+FFFD later.
   */
  textSpan(n: number): { start: number; ascii: boolean } {
    const start = this.take(n);
    const end = start + n;
    const buf = this.buf;
    for (let i = start; i < end; i++) {
      if (buf[i]! > 0x7f) {
        if (!isUtf8(buf.subarray(start, end)))
          throw new DecodeError('invalid UTF-8 in text', this.tag, start);
        return { start, ascii: false };
      }
    }
    return { start, ascii: true };
  }

  /** Skips the next `n` bytes and returns where they start. */
  span(n: number): number {
    return this.take(n);
  }

  /** Returns the next `n` bytes as a view that shares memory with the buffer (no copy). */
  bytes(n: number): Buffer {
    const start = this.take(n);
    return this.buf.subarray(start, start + n);
  }

  /** Returns a copy of the next `n` bytes as a plain Uint8Array that does not keep the buffer alive. */
  copyBytes(n: number): Uint8Array {
    const start = this.take(n);
    const out = new Uint8Array(n);
    this.buf.copy(out, 0, start, start + n);
    return out;
  }

  /** Throws `DecodeError` at the current position; used by decoders for invalid values. */
  fail(message: string, offset: number = this.pos): never {
    throw new DecodeError(message, this.tag, offset);
  }

  /** Checks that `n` bytes remain, advances past them and returns where they start. */
  private take(n: number): number {
    const at = this.pos;
    // A negative length comes from a corrupt length field; it is as invalid as a short buffer.
    if (n < 0 || n > this.buf.length - at) {
      throw new DecodeError(
        n < 0
          ? `negative length ${n}`
          : `message truncated: needs ${n} more bytes, ${this.buf.length - at} left`,
        this.tag,
        at,
      );
    }
    this.pos = at + n;
    return at;
  }

  /** Decodes bytes `[start, end)` as UTF-8 and rejects invalid sequences. */
  private utf8(start: number, end: number): string {
    const s = this.buf.toString('utf8', start, end);
    // Node replaces invalid sequences with U+FFFD. Only when one appears do we pay for a full
    // validation, which tells a genuine U+FFFD in the data apart from a replaced byte.
    if (s.includes('\uFFFD') && !isUtf8(this.buf.subarray(start, end))) {
      throw new DecodeError('invalid UTF-8 in text', this.tag, start);
    }
    return s;
  }
}

/**
 * NATS `HPUB` frames written in batches.
 *
 * A publish through nats.js costs a subject check, a protocol line built and encoded, and four
 * buffers queued and copied again before the socket write, for every message. Here each frame
 * (`HPUB <subject> <reply> <header bytes> <total bytes>\r\n<headers><payload>\r\n`) is encoded
 * with one UTF-8 write into a large buffer, and the frames written since the last send are handed
 * to the connection as one buffer: once they pass `flushBytes`, and otherwise in a microtask, so
 * that a batch never waits past the work that filled it.
 *
 * The byte count in the protocol line has to come before the bytes it counts. It is written as
 * the character count, which is exact for ASCII text (almost every event); when the write shows
 * multi-byte characters, the line is written again with the real count.
 *
 * The caller supplies valid subjects (no whitespace) and an ASCII header block.
 */

/** Where batches go: the connection's command queue, which keeps them in order with its own. */
export type SendBytes = (bytes: Uint8Array) => void;

/** Bytes of frames after which a batch is sent at once. */
export const DEFAULT_FLUSH_BYTES = 64 * 1024;
/** Size of the buffers frames are written into; a larger frame gets a buffer of its own size. */
const SLAB_BYTES = 256 * 1024;

/** Builds and sends HPUB frames; one instance per connection. */
export class HpubBatch {
  /** Frames are written here; a part handed to `send` is never written again. */
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** First byte not yet sent. */
  private start = 0;
  /** First free byte. */
  private end = 0;
  private scheduled = false;
  private readonly flushLater = () => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly send: SendBytes,
    private readonly flushBytes = DEFAULT_FLUSH_BYTES,
  ) {}

  /**
   * Queues one message: `headerBlock` is the `NATS/1.0` header section, ASCII, ending with an empty
   * line. Returns the size of headers and payload in bytes; a message larger than `maxBytes` is not
   * queued (the caller reports it).
   */
  add(
    subject: string,
    reply: string,
    headerBlock: string,
    payload: string | Uint8Array,
    maxBytes: number,
  ): number {
    const hlen = headerBlock.length;
    const prefix = `HPUB ${subject} ${reply} ${hlen} `;
    const text = typeof payload === 'string';
    const guess = hlen + payload.length;
    const line = `${prefix}${guess}\r\n`;
    // Strings are written with their CRLF; a byte payload is copied after the text.
    const str = text ? line + headerBlock + payload + '\r\n' : line + headerBlock;
    const tail = text ? 0 : payload.length + 2;
    this.reserve(str.length * 3 + tail);
    let at = this.end;
    const slab = this.slab;
    const written = slab.write(str, at, 'utf8');
    let lineBytes = line.length;
    let size = guess;
    if (written !== str.length) {
      // Multi-byte characters in the subject or the payload: count the bytes of each part.
      lineBytes = Buffer.byteLength(line, 'utf8');
      size = written - lineBytes - (text ? 2 : 0) + (text ? 0 : payload.length);
    }
    if (size > maxBytes) return size;
    if (size !== guess) {
      const fixed = `${prefix}${size}\r\n`;
      const fixedBytes = Buffer.byteLength(fixed, 'utf8');
      if (fixedBytes !== lineBytes) slab.copyWithin(at + fixedBytes, at + lineBytes, at + written);
      slab.write(fixed, at, 'utf8');
      at += fixedBytes - lineBytes;
    }
    at += written;
    if (!text) {
      slab.set(payload, at);
      at += payload.length;
      slab[at++] = 13;
      slab[at++] = 10;
    }
    this.end = at;
    if (this.end - this.start >= this.flushBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushLater);
    }
    return size;
  }

  /** Sends the frames written since the last send. */
  flush(): void {
    if (this.end === this.start) return;
    const bytes = this.slab.subarray(this.start, this.end);
    this.start = this.end;
    this.send(bytes);
  }

  /** Makes room for `bytes` more: the frames written so far are sent and a new buffer taken. */
  private reserve(bytes: number): void {
    if (this.end + bytes <= this.slab.length) return;
    this.flush();
    this.slab = Buffer.allocUnsafeSlow(Math.max(SLAB_BYTES, bytes));
    this.start = this.end = 0;
  }
}

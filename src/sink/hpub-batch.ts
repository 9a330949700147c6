/**
 * NATS `HPUB` frames written in batches.
 *
 * A publish through nats.js costs a subject check, a protocol line built and encoded, and four
 * buffers queued and copied again before the socket write, for every message. Here each frame
 * (`HPUB <subject> <reply> <header bytes> <total bytes>\r\n<headers><payload>\r\n`) is written
 * byte by byte into a large buffer from parts that are bytes already (the subject and the reply
 * prefix encoded once, the header block and the payload written as bytes by the caller), and the
 * frames written since the last send are handed to the connection as one buffer: once they pass
 * `flushBytes`, and otherwise in a microtask, so that a batch never waits past the work that
 * filled it.
 *
 * A frame added with a chain number asks for a PubAck only if it is the last of its chain in the
 * batch: its reply subject's place is written as spaces (nats-server reads the arguments of an
 * `HPUB` line between runs of spaces, so the frame then has no reply subject), and when the batch
 * is sent, the last frame of each chain gets its reply subject written into that place. The sink
 * chains the events of a stream so that a PubAck for one acknowledges every event of the chain
 * before it (`jetstream-sink.ts`).
 *
 * The caller supplies valid subjects (no whitespace).
 */

import { decimalDigits, putBytes, putDecimal } from '../bytes.js';

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
  /** By chain: where the reply subject of its last frame since the last send goes, or -1. */
  private readonly replyAt: number[] = [];
  private readonly replySeq: number[] = [];
  private readonly replyPrefix: Uint8Array[] = [];
  /** The chains with a frame since the last send. */
  private readonly chains: number[] = [];
  private readonly flushLater = () => {
    this.scheduled = false;
    this.flush();
  };

  constructor(
    private readonly send: SendBytes,
    private readonly flushBytes = DEFAULT_FLUSH_BYTES,
  ) {}

  /**
   * Queues one message to `subject` with the reply subject `<replyPrefix><replySeq>`; `headers` is
   * the `NATS/1.0` header section, ending with an empty line. With a `chain` (≥ 0), the reply
   * subject is written only if the frame is still the last of that chain when the batch is sent.
   * Returns the size of headers and payload in bytes; a message larger than `maxBytes` is not queued
   * (the caller reports it).
   */
  add(
    subject: Uint8Array,
    replyPrefix: Uint8Array,
    replySeq: number,
    headers: Uint8Array,
    payload: Uint8Array,
    maxBytes: number,
    chain = -1,
  ): number {
    const hlen = headers.length;
    const size = hlen + payload.length;
    if (size > maxBytes) return size;
    // HPUB, 4 spaces, CRLF twice, and three numbers of at most 16 digits.
    this.reserve(subject.length + replyPrefix.length + size + 5 + 4 + 4 + 48);
    const slab = this.slab;
    let p = this.end;
    p = putBytes(slab, p, HPUB);
    p = putBytes(slab, p, subject);
    if (chain < 0) {
      slab[p++] = SPACE;
      p = putBytes(slab, p, replyPrefix);
      p = putDecimal(slab, p, replySeq);
    } else {
      const at = p;
      p += 1 + replyPrefix.length + decimalDigits(replySeq);
      slab.fill(SPACE, at, p);
      this.deferReply(chain, at, replyPrefix, replySeq);
    }
    slab[p++] = SPACE;
    p = putDecimal(slab, p, hlen);
    slab[p++] = SPACE;
    p = putDecimal(slab, p, size);
    slab[p++] = CR;
    slab[p++] = LF;
    p = putBytes(slab, p, headers);
    p = putBytes(slab, p, payload);
    slab[p++] = CR;
    slab[p++] = LF;
    // Writes past the end of a buffer are dropped silently: a frame must never go out cut short.
    if (p > slab.length) throw new Error(`HPUB frame overran its buffer (${p} > ${slab.length})`);
    this.end = p;
    if (this.end - this.start >= this.flushBytes) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.flushLater);
    }
    return size;
  }

  /** Remembers the place of the reply subject of the newest frame of `chain`. */
  private deferReply(chain: number, at: number, prefix: Uint8Array, seq: number): void {
    while (this.replyAt.length <= chain) {
      this.replyAt.push(-1);
      this.replySeq.push(0);
      this.replyPrefix.push(prefix);
    }
    if (this.replyAt[chain] === -1) this.chains.push(chain);
    this.replyAt[chain] = at;
    this.replySeq[chain] = seq;
    this.replyPrefix[chain] = prefix;
  }

  /** Writes the reply subject of the last frame of each chain into the place kept for it. */
  private writeReplies(): void {
    for (const chain of this.chains) {
      let p = this.replyAt[chain]!;
      this.slab[p++] = SPACE;
      p = putBytes(this.slab, p, this.replyPrefix[chain]!);
      putDecimal(this.slab, p, this.replySeq[chain]!);
      this.replyAt[chain] = -1;
    }
    this.chains.length = 0;
  }

  /** Sends the frames written since the last send. */
  flush(): void {
    if (this.end === this.start) return;
    if (this.chains.length > 0) this.writeReplies();
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

const HPUB = Buffer.from('HPUB ', 'latin1');
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;

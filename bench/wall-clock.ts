/**
 * The system clock in microseconds. PostgreSQL stamps commits with the system clock (µs), but
 * `Date.now()` has millisecond steps, and the monotonic clocks (`performance.now()`,
 * `process.hrtime`) drift from the system clock: 0.8 ms in 30 s was seen on the bench machine,
 * more than a median latency. So the offset between the two is measured again every 50 ms in a
 * worker thread, and a reading is hrtime plus the latest offset.
 */
import { Worker } from 'node:worker_threads';

/** A microsecond system clock; `close()` it when done. */
export class WallClock {
  private readonly offset: Float64Array;
  private readonly worker: Worker;
  private readonly firstOffset: Promise<number>;

  private constructor() {
    const buffer = new SharedArrayBuffer(8);
    const offset = new Float64Array(buffer);
    this.offset = offset;
    this.worker = new Worker(new URL('./clock-worker.js', import.meta.url), { workerData: buffer });
    this.worker.unref();
    this.firstOffset = (async () => {
      while (offset[0] === 0) await new Promise((r) => setTimeout(r, 1));
      return offset[0]!;
    })();
  }

  /** Starts the worker and waits for its first measurement. */
  static async start(): Promise<WallClock> {
    const clock = new WallClock();
    await clock.firstOffset;
    return clock;
  }

  /** Microseconds since the epoch, on the system clock. */
  nowUs(): number {
    return Number(process.hrtime.bigint()) / 1000 + this.offset[0]!;
  }

  /** How far the system clock moved against hrtime since the start, in ms. */
  async driftMs(): Promise<number> {
    return (this.offset[0]! - (await this.firstOffset)) / 1000;
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

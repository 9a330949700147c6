/**
 * Keeps the offset between the system clock and `process.hrtime` current, for `wall-clock.ts`:
 * every 50 ms it busy-waits (at most 1 ms) for `Date.now()` to tick to a new millisecond and
 * stores, at that instant, system clock − hrtime in microseconds in the shared buffer. It runs in
 * its own thread so that the busy-wait never delays the bench's event loop.
 */
import { workerData } from 'node:worker_threads';

const offset = new Float64Array(workerData as SharedArrayBuffer, 0, 1);
const sleeper = new Int32Array(new SharedArrayBuffer(4));

for (;;) {
  const before = Date.now();
  let ms: number;
  while ((ms = Date.now()) === before) {
    // Busy-wait for the next millisecond.
  }
  offset[0] = ms * 1000 - Number(process.hrtime.bigint()) / 1000;
  Atomics.wait(sleeper, 0, 0, 50);
}

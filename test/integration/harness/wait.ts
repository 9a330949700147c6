/**
 * Waiting on conditions for integration tests: tests poll for the state they expect (N messages
 * arrived, a slot exists) instead of sleeping for a fixed time, so they are as fast as the
 * servers allow and fail with a message that says what never happened.
 */
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** How long and how often {@link waitFor} polls, and what it waits for (used in the timeout error). */
export interface WaitOptions {
  /** Give up after this many milliseconds; default 10 000. */
  timeoutMs?: number;
  /** Pause between two checks, or a function giving the next pause (read after each check); default 50. */
  intervalMs?: number | (() => number);
  /** What the condition means, in words, e.g. `"3 messages on stream ORDERS"`. */
  what: string;
  /** Stops waiting at once with the signal's reason, e.g. when the server being waited on exits. */
  signal?: AbortSignal;
}

/** {@link waitFor} gave up: the condition never held within the time allowed. */
export class WaitTimeoutError extends Error {
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.name = 'WaitTimeoutError';
  }
}

/**
 * Calls `condition` until it returns something other than `undefined` or `false`, and resolves
 * with that value.
 *
 * Only `undefined` and `false` mean "not yet": `0`, `''` and `null` are results. An error thrown
 * by the condition fails the wait at once, because a condition that can legitimately fail for a
 * while (connecting to a server that is starting) should catch that error itself and say "not
 * yet"; anything else would hide real failures until the timeout. A check still running at the
 * deadline does not extend it.
 */
export async function waitFor<T>(
  condition: () => Promise<T | undefined | false> | T | undefined | false,
  options: WaitOptions,
): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 50, what, signal } = options;
  const deadline = Date.now() + timeoutMs;
  const timedOut = Symbol('timed out');
  for (;;) {
    signal?.throwIfAborted();
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new WaitTimeoutError(what, timeoutMs);
    const timer = new AbortController();
    try {
      const result = await Promise.race([
        Promise.resolve().then(condition),
        sleep(remaining, timedOut, { signal: timer.signal }),
        ...(signal ? [aborted(signal, timer.signal)] : []),
      ]);
      if (result === timedOut) throw new WaitTimeoutError(what, timeoutMs);
      if (result !== undefined && result !== false) return result as T;
    } finally {
      timer.abort();
    }
    await sleep(
      Math.min(
        typeof intervalMs === 'number' ? intervalMs : intervalMs(),
        Math.max(0, deadline - Date.now()),
      ),
      undefined,
      signal ? { signal } : {},
    ).catch(() => undefined);
  }
}

/** A promise that rejects with `signal.reason` when `signal` aborts; settles quietly once `until` aborts. */
function aborted(signal: AbortSignal, until: AbortSignal): Promise<never> {
  return new Promise((_resolve, reject) => {
    const onAbort = (): void => {
      until.removeEventListener('abort', onDone);
      const reason: unknown = signal.reason;
      reject(reason instanceof Error ? reason : new Error(String(reason)));
    };
    const onDone = (): void => signal.removeEventListener('abort', onAbort);
    signal.addEventListener('abort', onAbort, { once: true });
    until.addEventListener('abort', onDone, { once: true });
  });
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago: the kernel picks it for a listener on port 0,
 * which is then closed. Another process can take it in between; callers that start a server on it
 * should retry with a new port when the server reports the address in use.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string')
    throw new Error('could not read the port of a listener');
  return address.port;
}

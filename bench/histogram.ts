/**
 * `npm run bench:histogram`: what one `observe()` costs in the latency histogram pgwalstreams uses
 * on the hot path (`FastHistogram`, one observation per event for the PubAck latency) and in
 * prom-client's own `Histogram` with the same buckets and no labels. The two take turns, several
 * rounds each, on the same values; the medians are printed, and the two histograms' series are
 * compared so that the faster one is known to count the same.
 */
import { parseArgs } from 'node:util';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram, LATENCY_BUCKETS } from '../src/ops/metrics.js';
import { wholeNumber } from './args.js';

const USAGE = `usage: npm run bench:histogram -- [--observations N] [--rounds N]

  --observations N  observations per round (default 2 000 000)
  --rounds N        rounds per histogram, taking turns (default 7)`;

/** Nanoseconds per call of `observe` over `values`, cycling until `n` calls were made. */
function timeObserve(observe: (v: number) => void, values: readonly number[], n: number): number {
  const mask = values.length - 1;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) observe(values[i & mask]!);
  return Number(process.hrtime.bigint() - start) / n;
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: { observations: { type: 'string' }, rounds: { type: 'string' } },
  });
  const n = wholeNumber('observations', args.observations, 2_000_000, USAGE);
  const rounds = wholeNumber('rounds', args.rounds, 7, USAGE);
  // PubAck latencies as loopback gives them: 0.1 ms to 4 ms, a power-of-two count of them.
  let seed = 1;
  const values = Array.from({ length: 4096 }, () => {
    seed = (seed * 16807) % 2147483647;
    return 0.0001 + (seed / 2147483647) * 0.0039;
  });
  const registry = new Registry();
  const prom = new Histogram({
    name: 'prom',
    help: 'prom',
    buckets: [...LATENCY_BUCKETS],
    registers: [registry],
  });
  const fast = new FastHistogram('fast', 'fast', LATENCY_BUCKETS);
  const times = { prom: [] as number[], fast: [] as number[] };
  timeObserve((v) => prom.observe(v), values, n); // warm-up of both
  timeObserve((v) => fast.observe(v), values, n);
  for (let r = 0; r < rounds; r++) {
    times.prom.push(timeObserve((v) => prom.observe(v), values, n));
    times.fast.push(timeObserve((v) => fast.observe(v), values, n));
  }
  const counts = async (h: { get(): Promise<{ values: { value: number; labels: object }[] }> }) =>
    (await h.get()).values.map((v) => `${JSON.stringify(v.labels)} ${v.value.toFixed(6)}`);
  const same = JSON.stringify(await counts(prom)) === JSON.stringify(await counts(fast));
  const p = median(times.prom);
  const f = median(times.fast);
  console.log(
    `observe() of a latency histogram, ${rounds} rounds of ${n} observations each (median ns per call)`,
  );
  console.log(
    `  prom-client Histogram  ${p.toFixed(1)} ns   (rounds: ${times.prom.map((t) => t.toFixed(0)).join(' ')})`,
  );
  console.log(
    `  FastHistogram          ${f.toFixed(1)} ns   (rounds: ${times.fast.map((t) => t.toFixed(0)).join(' ')})`,
  );
  console.log(
    `  difference             ${(p - f).toFixed(1)} ns per event (one PubAck latency observed per event)`,
  );
  console.log(`  same series            ${same ? 'yes' : 'NO: the histograms disagree'}`);
  if (!same) process.exitCode = 1;
}

await main();

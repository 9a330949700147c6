/**
 * Figures from samples: percentiles of latencies, and the quantile estimate Prometheus makes from
 * a histogram's buckets (`histogram_quantile`), to compare with the service's own metric.
 */

/** The `p`-th percentile (0–100) of ascending `sorted` by nearest rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/** One cumulative bucket of a Prometheus histogram: `count` observations were ≤ `le`. */
export interface Bucket {
  le: number;
  count: number;
}

/** The cumulative buckets of histogram `name` in Prometheus text, ascending by `le` (+Inf last). */
export function parseHistogram(text: string, name: string): Bucket[] {
  const buckets: Bucket[] = [];
  const prefix = `${name}_bucket{`;
  for (const line of text.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const m = /le="([^"]+)"\}\s+(\S+)/.exec(line);
    if (!m) continue;
    buckets.push({ le: m[1] === '+Inf' ? Infinity : Number(m[1]), count: Number(m[2]) });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

/** `after − before`, bucket by bucket: the observations made between two scrapes. */
export function bucketDelta(before: readonly Bucket[], after: readonly Bucket[]): Bucket[] {
  return after.map((b) => ({ le: b.le, count: b.count - (before.find((x) => x.le === b.le)?.count ?? 0) }));
}

/**
 * The `q`-quantile (0–1) as Prometheus's `histogram_quantile` estimates it: linear interpolation
 * inside the bucket that holds the rank, from the bucket below's bound (0 for the first). A rank
 * in the +Inf bucket gives the highest finite bound. NaN when there are no observations.
 */
export function histogramQuantile(buckets: readonly Bucket[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;
      const inBucket = b.count - lowerCount;
      return inBucket === 0 ? b.le : lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / inBucket;
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}

/** The upper bound of the bucket holding the `q`-quantile: a sure "at most". */
export function histogramBound(buckets: readonly Bucket[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return NaN;
  return buckets.find((b) => b.count >= q * total)?.le ?? Infinity;
}

/** The median of `xs` (the upper one of an even count). */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

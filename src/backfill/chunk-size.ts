/**
 * How many rows the next backfill chunk reads: the size adapts to the time budget of one query
 * (`backfill.chunkTime`), so the database is never busy with a chunk for much longer than that.
 * Pure.
 */

/** The smallest chunk. */
export const MIN_CHUNK_ROWS = 100;
/** The first chunk of a backfill. */
export const FIRST_CHUNK_ROWS = 1000;

/**
 * The size after a chunk of `limit` rows whose query took `queryMs` and whose whole round
 * (watermarks, read, publish, flush) took `chunkMs`: half when the query went over the budget,
 * double when it took under half of it (and the round under four budgets), else the same; never
 * below {@link MIN_CHUNK_ROWS} nor above `maxRows`.
 */
export function nextChunkRows(
  limit: number,
  queryMs: number,
  chunkMs: number,
  budgetMs: number,
  maxRows: number,
): number {
  let next = limit;
  if (queryMs > budgetMs) next = Math.floor(limit / 2);
  else if (queryMs < budgetMs / 2 && chunkMs < budgetMs * 4) next = limit * 2;
  return Math.max(MIN_CHUNK_ROWS, Math.min(maxRows, next));
}

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MIN_CHUNK_ROWS, nextChunkRows } from '../../src/backfill/chunk-size.js';

describe('backfill chunk size', () => {
  const BUDGET = 500;
  const MAX = 20_000;

  test('doubles while the query takes under half the budget', () => {
    assert.equal(nextChunkRows(1000, 100, 300, BUDGET, MAX), 2000);
    assert.equal(nextChunkRows(2000, 249, 300, BUDGET, MAX), 4000);
  });

  test('stays while the query takes between half the budget and the budget', () => {
    assert.equal(nextChunkRows(4000, 250, 400, BUDGET, MAX), 4000);
    assert.equal(nextChunkRows(4000, 500, 900, BUDGET, MAX), 4000);
  });

  test('halves when the query goes over the budget', () => {
    assert.equal(nextChunkRows(4000, 501, 900, BUDGET, MAX), 2000);
    assert.equal(nextChunkRows(1001, 2000, 2500, BUDGET, MAX), 500);
  });

  test('does not grow when the round (watermarks, publish, flush) takes over four budgets', () => {
    assert.equal(nextChunkRows(4000, 10, 2000, BUDGET, MAX), 4000);
    assert.equal(nextChunkRows(4000, 10, 1999, BUDGET, MAX), 8000);
  });

  test('never below the minimum nor above backfill.maxChunkRows', () => {
    assert.equal(nextChunkRows(MIN_CHUNK_ROWS, 5000, 6000, BUDGET, MAX), MIN_CHUNK_ROWS);
    assert.equal(nextChunkRows(150, 5000, 6000, BUDGET, MAX), MIN_CHUNK_ROWS);
    assert.equal(nextChunkRows(16_000, 10, 50, BUDGET, MAX), MAX);
    assert.equal(nextChunkRows(MAX, 10, 50, BUDGET, MAX), MAX);
    assert.equal(nextChunkRows(1000, 10, 50, BUDGET, 700), 700);
  });

  test('a slow table settles at the size the budget allows', () => {
    // A query costing 0.1 ms per row: the budget of 500 ms allows 5 000 rows.
    let rows = 1000;
    for (let i = 0; i < 20; i++) rows = nextChunkRows(rows, rows * 0.1, rows * 0.15, BUDGET, MAX);
    assert.ok(rows >= 2500 && rows <= 5000, `${rows} rows`);
  });
});

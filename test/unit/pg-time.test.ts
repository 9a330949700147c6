import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatPgTimestamp, PG_EPOCH_MS } from '../../src/source/pg-time.js';

/** The definition: whole milliseconds through Date, then the three digits of microseconds. */
function reference(micros: bigint): string {
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms) + PG_EPOCH_MS).toISOString();
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

describe('formatPgTimestamp', () => {
  test('known instants, before and after the PostgreSQL epoch', () => {
    assert.equal(formatPgTimestamp(0n), '2000-01-01T00:00:00.000000Z');
    assert.equal(formatPgTimestamp(-1n), '1999-12-31T23:59:59.999999Z');
    const t = BigInt(Date.UTC(2024, 0, 1, 10, 0, 1) - PG_EPOCH_MS) * 1000n + 123456n;
    assert.equal(formatPgTimestamp(t), '2024-01-01T10:00:01.123456Z');
    assert.equal(formatPgTimestamp(t + 1n), '2024-01-01T10:00:01.123457Z');
  });

  test('the same text as the definition, in runs within one second and across seconds', () => {
    let x = 0x2545f491n;
    const next = () => (x = (x * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n));
    let compared = 0;
    for (let i = 0; i < 2000; i++) {
      // within ±200 years of the epoch, then a few commits in the same second and the next ones
      const base = (next() % 12_623_040_000_000_000n) - 6_311_520_000_000_000n;
      for (const d of [0n, 1n, 999n, 1000n, 999_999n, 1_000_000n, -1n, -1_000_001n]) {
        assert.equal(formatPgTimestamp(base + d), reference(base + d), String(base + d));
        compared++;
      }
    }
    assert.equal(compared, 16_000);
  });

  test('beyond 2^53 µs from the epoch: still exact', () => {
    assert.equal(formatPgTimestamp(2n ** 53n + 7n), '2285-06-04T23:47:34.740999Z');
    assert.equal(formatPgTimestamp(-(2n ** 53n) - 7n), '1714-07-29T00:12:25.259001Z');
    assert.equal(formatPgTimestamp(2n ** 56n + 123_456n), '4283-05-31T22:20:38.051392Z');
  });
});

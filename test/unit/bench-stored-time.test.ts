import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rfc3339Micros } from '../../bench/servers.js';

test("the bench reads nats-server's stream timestamps to the microsecond", () => {
  const base = Date.UTC(2026, 10, 24, 8, 51, 41) * 1000;
  // As nats-server 2.9 prints first_ts and last_ts: nanoseconds, UTC.
  assert.equal(rfc3339Micros('2026-11-24T08:51:41.685123456Z'), base + 685_123);
  assert.equal(rfc3339Micros('2026-11-24T08:51:41.5Z'), base + 500_000);
  assert.equal(rfc3339Micros('2026-11-24T08:51:41Z'), base);
  assert.equal(rfc3339Micros('2026-11-24T10:51:41.000001+02:00'), base + 1);
  assert.equal(
    rfc3339Micros('2026-11-24T08:51:46.000000001Z') - rfc3339Micros('2026-11-24T08:51:41.999999Z'),
    4_000_001,
  );
  assert.throws(() => rfc3339Micros('0001-01-01 00:00:00'), /not an RFC 3339 time/);
});

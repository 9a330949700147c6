/**
 * PostgreSQL timestamps on the wire: microseconds since 2000-01-01 00:00:00 UTC.
 */

/** Milliseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01 UTC). */
export const PG_EPOCH_MS = 946_684_800_000;

/**
 * Formats a PostgreSQL wire timestamp as RFC 3339 in UTC with microseconds,
 * e.g. `2024-01-01T10:00:01.123456Z`.
 */
export function formatPgTimestamp(micros: bigint): string {
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms) + PG_EPOCH_MS).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

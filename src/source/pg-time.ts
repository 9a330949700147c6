/**
 * PostgreSQL timestamps on the wire: microseconds since 2000-01-01 00:00:00 UTC.
 */

/** Milliseconds between the Unix epoch and the PostgreSQL epoch (2000-01-01 UTC). */
export const PG_EPOCH_MS = 946_684_800_000;

/** The last second formatted, and its text up to the fraction (`YYYY-MM-DDTHH:MM:SS.`). */
let lastSecond = NaN;
let lastSecondText = '';

/**
 * Formats a PostgreSQL wire timestamp as RFC 3339 in UTC with microseconds,
 * e.g. `2024-01-01T10:00:01.123456Z`. Commits come many to a second, so the text up to the
 * fraction is kept for the last second formatted.
 */
export function formatPgTimestamp(micros: bigint): string {
  const n = Number(micros);
  if (!Number.isSafeInteger(n)) return formatExactly(micros);
  const second = Math.floor(n / 1e6);
  if (second !== lastSecond) {
    // YYYY-MM-DDTHH:MM:SS.mmmZ without mmmZ
    lastSecondText = new Date(second * 1000 + PG_EPOCH_MS).toISOString().slice(0, -4);
    lastSecond = second;
  }
  return `${lastSecondText}${String(n - second * 1e6).padStart(6, '0')}Z`;
}

/** `formatPgTimestamp` for a timestamp beyond 2^53 µs (about 285 years) from the epoch. */
function formatExactly(micros: bigint): string {
  let ms = micros / 1000n;
  let rest = micros % 1000n;
  if (rest < 0n) {
    rest += 1000n;
    ms -= 1n;
  }
  const iso = new Date(Number(ms) + PG_EPOCH_MS).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  return `${iso.slice(0, -1)}${rest.toString().padStart(3, '0')}Z`;
}

/**
 * Log sequence numbers: `bigint` inside the process, `X/Y` text at the edges.
 */
import { DecodeError } from '../errors.js';

/** A PostgreSQL write-ahead log position. */
export type Lsn = bigint;

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** Parses `X/Y` (as printed by PostgreSQL) into a bigint. */
export function parseLsn(text: string): Lsn {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) throw new DecodeError(`invalid LSN text ${JSON.stringify(text)}`, 'lsn', 0);
  return (BigInt('0x' + m[1]!) << 32n) | BigInt('0x' + m[2]!);
}

/** Formats an LSN as PostgreSQL does: upper-case hex halves without padding, e.g. `0/16B3748`. */
export function formatLsn(lsn: Lsn): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** The larger of two LSNs. */
export function maxLsn(a: Lsn, b: Lsn): Lsn {
  return a > b ? a : b;
}

/**
 * Log sequence numbers: `bigint` inside the process, `X/Y` text at the edges.
 *
 * The delivery contract turns on which position is which, so the positions that must never be
 * confused are branded types: a `CommitLsn` names a transaction, only a `CommitEndLsn` of a
 * transaction may be confirmed, a `ReceivedLsn` says how far the stream was read, and a `FlushLsn`
 * (made by the checkpointer alone) is what may be confirmed to the server. One cannot be passed
 * where another is expected without a cast, which only the places that read positions from the
 * wire (the frame parser, the decoder, the slot query) and the checkpointer make.
 */
import { DecodeError } from '../errors.js';

/** A PostgreSQL write-ahead log position, of no particular meaning. */
export type Lsn = bigint;

declare const meaning: unique symbol;
/** An LSN that means one thing only; see the module comment. */
type MeaningfulLsn<M extends string> = bigint & { readonly [meaning]: M };

/** The LSN of a transaction's commit record (Begin `final_lsn`, Commit `commit_lsn`): it names the transaction in event ids. */
export type CommitLsn = MeaningfulLsn<'commit'>;
/** The end of a transaction's commit record (Commit `end_lsn`): the position confirmed once its events are stored. */
export type CommitEndLsn = MeaningfulLsn<'commit-end'>;
/** A position the server sent (XLogData start, keepalive WAL end): read, not yet stored anywhere. */
export type ReceivedLsn = MeaningfulLsn<'received'>;
/** A position that may be confirmed to the server as flushed: everything before it is in JetStream. */
export type FlushLsn = MeaningfulLsn<'flush'>;

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

/** The larger of two LSNs of the same meaning. */
export function maxLsn<T extends Lsn>(a: T, b: T): T {
  return a > b ? a : b;
}

/**
 * Deterministic event ids: the same change always gets the same id, so JetStream drops a replay
 * by its `Nats-Msg-Id`.
 *
 * The id is an RFC 9562 version-8 UUID that packs 122 bits: 26 bits of a hash of the database
 * system identifier (so two clusters writing to one stream never collide), the 64-bit commit LSN,
 * and the 32-bit position of the change in its transaction. The last 8 hex digits are the position,
 * and the LSN can be read back from the id (`decodeEventId`).
 */
import { createHash } from 'node:crypto';
import { HEX_DIGITS } from '../bytes.js';

/** The per-transaction part of an id; ids of its changes differ only in the last 8 hex digits. */
export interface TransactionIdPrefix {
  readonly prefix: string;
  /** `prefix` as ASCII bytes, for ids written as bytes (`writeEventId`). */
  readonly prefixBytes: Buffer;
}

const MASK_12 = 0xfffn;
const MASK_48 = (1n << 48n) - 1n;
const MASK_30 = (1n << 30n) - 1n;

/** 26 bits derived from the database system identifier (from IDENTIFY_SYSTEM). */
export function systemNamespace(systemId: string): number {
  return createHash('sha1').update(systemId).digest().readUInt32BE(0) >>> 6;
}

/** Computes the id prefix shared by every change of the transaction committed at `commitLsn`. */
export function transactionIdPrefix(namespace: number, commitLsn: bigint): TransactionIdPrefix {
  // payload (122 bits) = namespace(26) | commitLsn(64) | position(32)
  const high = (BigInt(namespace & 0x3ffffff) << 64n) | commitLsn; // the top 90 bits of the payload
  const hi48 = (high >> 42n) & MASK_48;
  const mid12 = (high >> 30n) & MASK_12;
  const lo30 = high & MASK_30; // joins the 32-bit position in the last 62 bits
  const tail = (2n << 62n) | (lo30 << 32n); // variant bits 10, then 30 bits of the LSN
  const h = hi48.toString(16).padStart(12, '0');
  const t = tail.toString(16).padStart(16, '0').slice(0, 8);
  const prefix = `${h.slice(0, 8)}-${h.slice(8, 12)}-8${mid12.toString(16).padStart(3, '0')}-${t.slice(0, 4)}-${t.slice(4, 8)}`;
  return { prefix, prefixBytes: Buffer.from(prefix, 'latin1') };
}

/** The id of the change at `position` (0-based) in its transaction. */
export function eventId(tx: TransactionIdPrefix, position: number): string {
  if (position > 0xffffffff) {
    throw new RangeError(`a transaction has more than ${0xffffffff} changes; event ids cannot be formed`);
  }
  return tx.prefix + position.toString(16).padStart(8, '0');
}

/**
 * Writes the text of `eventId(tx, position)` as ASCII bytes into `buf` at `at` (36 bytes, which the
 * caller makes room for) and returns where it ends.
 */
export function writeEventId(tx: TransactionIdPrefix, position: number, buf: Uint8Array, at: number): number {
  const prefix = tx.prefixBytes;
  let p = at;
  for (let i = 0; i < prefix.length; i++) buf[p++] = prefix[i]!;
  return writeEventPosition(position, buf, p);
}

/** Writes the last part of an event id, the 8 hex digits of the position, at `at`; returns where it ends. */
export function writeEventPosition(position: number, buf: Uint8Array, at: number): number {
  let p = at;
  for (let shift = 28; shift >= 0; shift -= 4) buf[p++] = HEX_DIGITS[(position >>> shift) & 15]!;
  return p;
}

/** Reads the namespace, commit LSN and position back out of an event id. */
export function decodeEventId(id: string): { namespace: number; commitLsn: bigint; position: number } {
  const hex = id.replaceAll('-', '');
  if (!/^[0-9a-f]{12}8[0-9a-f]{3}[89ab][0-9a-f]{15}$/.test(hex)) {
    throw new RangeError(`not a pgwalstreams event id: ${JSON.stringify(id)}`);
  }
  const v = BigInt('0x' + hex);
  const hi48 = v >> 80n;
  const mid12 = (v >> 64n) & MASK_12;
  const lo62 = v & ((1n << 62n) - 1n);
  const payload = (hi48 << 74n) | (mid12 << 62n) | lo62;
  return {
    namespace: Number(payload >> 96n),
    commitLsn: (payload >> 32n) & ((1n << 64n) - 1n),
    position: Number(payload & 0xffffffffn),
  };
}

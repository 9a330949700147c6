/**
 * Byte builders for test fixtures: a big-endian `ByteWriter`, and encoders for pgoutput
 * protocol-1 messages and TupleData written independently of the decoder.
 *
 * Layouts: https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
import { UNCHANGED_TOAST } from '../../src/source/pgoutput/messages.js';
import type { OldTupleKind, TupleValue } from '../../src/source/pgoutput/messages.js';
import type { PlainMessage } from './tuples.js';

/** Appends big-endian integers, strings and raw bytes, then joins them into one Buffer. */
export class ByteWriter {
  private readonly chunks: Buffer[] = [];

  /** Appends one byte; a one-character string is written as its character code. */
  addByte(value: number | string): this {
    const byte = typeof value === 'string' ? charCode(value) : value;
    return this.push(1, (b) => b.writeUInt8(byte));
  }

  /** Appends a 16-bit integer; accepts signed (-32768..-1) and unsigned (0..65535) values. */
  addInt16(value: number): this {
    return this.push(2, (b) => (value < 0 ? b.writeInt16BE(value) : b.writeUInt16BE(value)));
  }

  /** Appends a 32-bit integer; accepts signed values and unsigned ones such as OIDs up to 2^32-1. */
  addInt32(value: number): this {
    return this.push(4, (b) => (value < 0 ? b.writeInt32BE(value) : b.writeUInt32BE(value)));
  }

  /** Appends a 64-bit integer; accepts signed values and unsigned ones such as LSNs up to 2^64-1. */
  addInt64(value: bigint): this {
    return this.push(8, (b) => (value < 0n ? b.writeBigInt64BE(value) : b.writeBigUInt64BE(value)));
  }

  /** Appends a string as UTF-8 followed by a NUL terminator. */
  addCString(value: string): this {
    this.chunks.push(Buffer.from(value, 'utf8'), Buffer.of(0));
    return this;
  }

  /** Appends raw bytes (copied, so later changes to `value` do not alter the fixture). */
  addBytes(value: Uint8Array | readonly number[]): this {
    this.chunks.push(Buffer.from(value));
    return this;
  }

  /** Returns everything appended so far as one Buffer. */
  join(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Allocates `size` bytes, lets `write` fill them, and appends them. */
  private push(size: number, write: (b: Buffer) => unknown): this {
    const b = Buffer.alloc(size);
    write(b);
    this.chunks.push(b);
    return this;
  }
}

/**
 * Appends a TupleData: Int16 column count, then per value `n` (null), `u` (`UNCHANGED_TOAST`),
 * `t` + Int32 length + UTF-8 (string) or `b` + Int32 length + bytes (Uint8Array).
 */
export function writeTupleData(w: ByteWriter, tuple: readonly TupleValue[]): ByteWriter {
  w.addInt16(tuple.length);
  for (const value of tuple) {
    if (value === null) {
      w.addByte('n');
    } else if (value === UNCHANGED_TOAST) {
      w.addByte('u');
    } else if (typeof value === 'string') {
      const bytes = Buffer.from(value, 'utf8');
      w.addByte('t').addInt32(bytes.length).addBytes(bytes);
    } else {
      w.addByte('b').addInt32(value.length).addBytes(value);
    }
  }
  return w;
}

/**
 * Encodes a message as pgoutput protocol 1 sends it: the inverse of `decodePgoutput`.
 *
 * Fields are written as given: a Relation or Type with `schema: ''` is written with an empty
 * namespace, exactly as the server does for `pg_catalog`.
 */
export function encodePgoutput(msg: PlainMessage): Buffer {
  const w = new ByteWriter();
  switch (msg.tag) {
    case 'begin':
      w.addByte('B').addInt64(msg.finalLsn).addInt64(msg.commitTime).addInt32(msg.xid);
      break;
    case 'commit':
      w.addByte('C').addByte(msg.flags).addInt64(msg.commitLsn).addInt64(msg.endLsn);
      w.addInt64(msg.commitTime);
      break;
    case 'origin':
      w.addByte('O').addInt64(msg.originLsn).addCString(msg.name);
      break;
    case 'relation':
      w.addByte('R').addInt32(msg.relationId).addCString(msg.schema).addCString(msg.name);
      w.addByte(msg.replicaIdentity).addInt16(msg.columns.length);
      for (const c of msg.columns) {
        w.addByte(c.isKey ? 1 : 0)
          .addCString(c.name)
          .addInt32(c.typeOid)
          .addInt32(c.typeMod);
      }
      break;
    case 'type':
      w.addByte('Y').addInt32(msg.typeOid).addCString(msg.schema).addCString(msg.name);
      break;
    case 'insert':
      writeTupleData(w.addByte('I').addInt32(msg.relationId).addByte('N'), msg.newTuple);
      break;
    case 'update':
      w.addByte('U').addInt32(msg.relationId);
      if (msg.oldKind !== null && msg.oldTuple !== null) {
        writeTupleData(w.addByte(oldMarker(msg.oldKind)), msg.oldTuple);
      }
      writeTupleData(w.addByte('N'), msg.newTuple);
      break;
    case 'delete':
      w.addByte('D').addInt32(msg.relationId);
      writeTupleData(w.addByte(oldMarker(msg.oldKind)), msg.oldTuple);
      break;
    case 'truncate':
      w.addByte('T').addInt32(msg.relationIds.length);
      w.addByte((msg.cascade ? 1 : 0) | (msg.restartIdentity ? 2 : 0));
      for (const id of msg.relationIds) w.addInt32(id);
      break;
    case 'message':
      w.addByte('M')
        .addByte(msg.transactional ? 1 : 0)
        .addInt64(msg.lsn)
        .addCString(msg.prefix);
      w.addInt32(msg.content.length).addBytes(msg.content);
      break;
  }
  return w.join();
}

/** The Byte1 marker that introduces an old tuple of the given kind. */
function oldMarker(kind: OldTupleKind): string {
  return kind === 'key' ? 'K' : 'O';
}

/** The character code of a one-character string. */
function charCode(c: string): number {
  if (c.length !== 1) throw new RangeError(`expected one character, got ${JSON.stringify(c)}`);
  return c.charCodeAt(0);
}

/**
 * Builds a Buffer from hex fragments, ignoring whitespace, so fixtures can carry one field per
 * line with its layout in a comment: `hexBytes('42', '00000000 016b3748')`.
 */
export function hexBytes(...parts: string[]): Buffer {
  const hex = parts.join('').replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new RangeError(`not an even run of hex digits: ${hex}`);
  return Buffer.from(hex, 'hex');
}

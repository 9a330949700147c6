/**
 * Tuples in tests: messages are written with each tuple as the array of its values, and decoded
 * messages compared in that form.
 */
import type { PgoutputMessage, TupleValue } from '../../src/source/pgoutput/messages.js';
import { UNCHANGED_TOAST } from '../../src/source/pgoutput/messages.js';
import { ColumnKind, Tuple } from '../../src/source/pgoutput/tuple.js';

type WithArrays<M> = {
  [K in keyof M]: M[K] extends Tuple
    ? TupleValue[]
    : M[K] extends Tuple | null
      ? TupleValue[] | null
      : M[K] extends bigint
        ? bigint
        : M[K];
};

/** A pgoutput message with its tuples as arrays of values, and its LSNs as plain bigints. */
export type PlainMessage = PgoutputMessage extends infer M
  ? M extends unknown
    ? WithArrays<M>
    : never
  : never;

/** The message with its arrays of values as tuples, as the decoder gives them. */
export function withTuples(m: PlainMessage): PgoutputMessage {
  const out: Record<string, unknown> = { ...m };
  for (const key of ['newTuple', 'oldTuple']) {
    const v = out[key];
    if (Array.isArray(v)) out[key] = tupleOf(v as TupleValue[]); // a Tuple already is kept
  }
  return out as unknown as PgoutputMessage;
}

/** `x` with every tuple in it replaced by the array of its values, for deep comparisons. */
export function plain(x: unknown): unknown {
  if (x instanceof Tuple) return x.values();
  if (Array.isArray(x)) return x.map(plain);
  if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, plain(v)]));
  }
  return x;
}

/** A tuple of these values, in a buffer of its own. */
export function tupleOf(values: readonly TupleValue[]): Tuple {
  const parts: Buffer[] = [];
  const spans: number[] = [];
  let at = 0;
  for (const v of values) {
    if (v === null || v === UNCHANGED_TOAST) {
      spans.push(v === null ? ColumnKind.Null : ColumnKind.Unchanged, at, at);
      continue;
    }
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
    const kind =
      typeof v !== 'string'
        ? ColumnKind.Binary
        : b.length === v.length
          ? ColumnKind.Text
          : ColumnKind.TextUtf8;
    spans.push(kind, at, at + b.length);
    parts.push(b);
    at += b.length;
  }
  return new Tuple(Buffer.concat(parts), spans);
}

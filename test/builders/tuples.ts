/**
 * Tuples in tests: messages are written with each tuple as the array of its values, and decoded
 * messages compared in that form.
 */
import type { PgoutputMessage, TupleValue } from '../../src/source/pgoutput/messages.js';
import { Tuple } from '../../src/source/pgoutput/tuple.js';

type WithArrays<M> = {
  [K in keyof M]: M[K] extends Tuple ? TupleValue[] : M[K] extends Tuple | null ? TupleValue[] | null : M[K];
};

/** A pgoutput message with its tuples as arrays of values. */
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
    if (Array.isArray(v)) out[key] = Tuple.of(v as TupleValue[]); // a Tuple already is kept
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

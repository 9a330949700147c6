/**
 * Column values: pgoutput text (or binary) form → JSON text, chosen by type OID.
 *
 * Values are written as JSON text directly, so 64-bit integers and numerics keep every digit
 * (they are never rounded through a double). Types without a specific mapping keep their
 * PostgreSQL text form as a JSON string; nothing is dropped.
 */
import { UNCHANGED_TOAST, type TupleValue } from '../source/pgoutput/messages.js';

/** Built-in type OIDs with a specific JSON mapping. */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  oid: 26,
  json: 114,
  float4: 700,
  float8: 701,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Writes one value's JSON text. */
export type ValueWriter = (text: string) => string;

/** A JSON number exactly as JSON allows it; PostgreSQL integer, numeric and float text matches this. */
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

const asString: ValueWriter = (text) => JSON.stringify(text);

const asInteger: ValueWriter = (text) => text; // int2/int4/int8/oid text is always a plain integer

/** numeric and float: exact digits as a JSON number; `NaN`, `Infinity`, `-Infinity` as strings. */
const asNumber: ValueWriter = (text) => (JSON_NUMBER.test(text) ? text : JSON.stringify(text));

const asBool: ValueWriter = (text) => (text === 't' ? 'true' : text === 'f' ? 'false' : JSON.stringify(text));

/** json and jsonb text is JSON already: embed it as the value itself. */
const asJson: ValueWriter = (text) => text;

/** bytea text output is `\x` + hex: publish the bytes as base64. */
const asBytea: ValueWriter = (text) =>
  text.startsWith('\\x')
    ? JSON.stringify(Buffer.from(text.slice(2), 'hex').toString('base64'))
    : JSON.stringify(text);

const WRITERS = new Map<number, ValueWriter>([
  [TypeOid.bool, asBool],
  [TypeOid.bytea, asBytea],
  [TypeOid.int8, asInteger],
  [TypeOid.int2, asInteger],
  [TypeOid.int4, asInteger],
  [TypeOid.oid, asInteger],
  [TypeOid.json, asJson],
  [TypeOid.jsonb, asJson],
  [TypeOid.float4, asNumber],
  [TypeOid.float8, asNumber],
  [TypeOid.numeric, asNumber],
]);

/** The writer for a type; unknown types keep their text form as a JSON string. */
export function valueWriter(typeOid: number, _types?: TypeLookup): ValueWriter {
  return WRITERS.get(typeOid) ?? asString;
}

/**
 * JSON text of one tuple value. NULL is `null`; binary values (only sent with the `binary`
 * option) are base64 strings. The caller handles unchanged TOAST values before calling this.
 */
export function valueToJson(value: Exclude<TupleValue, typeof UNCHANGED_TOAST>, writer: ValueWriter): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return writer(value);
  return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
}

/** What is known about a non-built-in (or built-in container) type, from the catalog. */
export type TypeInfo =
  | { kind: 'enum' }
  | { kind: 'domain'; base: number }
  | { kind: 'array'; element: number; delimiter: string }
  | { kind: 'composite'; fields: readonly { name: string; type: number }[] }
  | { kind: 'range'; subtype: number }
  | { kind: 'multirange'; range: number }
  | { kind: 'base' };

/** Looks up types that are not built in (the pipeline fills it from the catalog). */
export interface TypeLookup {
  get(oid: number): TypeInfo | undefined;
}

/** Placeholder until the full mapping lands: no type needs catalog information. */
export function missingTypes(_typeOid: number, _types?: TypeLookup): number[] {
  return [];
}

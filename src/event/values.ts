/**
 * Column values: pgoutput text (or binary) form → JSON text, chosen by type OID.
 *
 * Values are written as JSON text directly, so 64-bit integers and numerics keep every digit
 * (they are never rounded through a double). The replication session fixes the text forms:
 * `client_encoding=UTF8, datestyle=ISO,YMD, timezone=UTC, intervalstyle=iso_8601,
 * extra_float_digits=1, bytea_output=hex`.
 *
 * | PostgreSQL type | JSON |
 * |---|---|
 * | `bool` | `true` / `false` |
 * | `int2`, `int4`, `int8`, `oid` | number, every digit |
 * | `numeric`, `float4`, `float8` | number with exactly PostgreSQL's digits; `NaN`, `Infinity`, `-Infinity` as strings |
 * | `json`, `jsonb` | the JSON value itself |
 * | `bytea` | base64 string |
 * | `date` | `"2024-02-29"`; BC as astronomical years (`0044-03-15 BC` → `"-0043-03-15"`); `"infinity"`, `"-infinity"` |
 * | `timestamp` | `"2024-01-01T10:00:00.500000"` (always 6 fractional digits); BC and infinities as for `date` |
 * | `timestamptz` | `"2024-01-01T10:00:00.500000Z"`; an offset other than `+00` is an error (the session time zone was not UTC) |
 * | `time` | `"10:00:00.000000"` (`24:00:00` included) |
 * | `timetz` | `"10:00:00.000000+02:00"`; offset seconds kept (`-05:30:15`) |
 * | `interval` | ISO 8601 duration as PostgreSQL prints it: `"P1Y2M3DT4H5M6.5S"`, `"PT0S"`, `"P-1D"` |
 * | enum | the label as a string |
 * | domain | the mapping of its base type (domains over domains too) |
 * | array (of any type) | JSON array, nested per dimension; NULL → `null`; lower bounds dropped |
 * | composite | object keyed by field name, each field mapped by its type; NULL → `null` |
 * | range | `{"lower":…,"upper":…,"lowerInclusive":bool,"upperInclusive":bool}`, bounds mapped by the subtype; an unbounded side is `null` and not inclusive; `empty` → `{"empty":true}` |
 * | multirange | JSON array of range objects |
 * | everything else: `text`, `varchar`, `bpchar`, `name`, `"char"`, `uuid`, `inet`, `cidr`, `macaddr`, `macaddr8`, `money`, `xml`, `tsvector`, `tsquery`, `bit`, `varbit`, geometric types, `int2vector`, `oidvector`, extension types (`citext`, `hstore`…), unknown types | the PostgreSQL text as a string |
 * | SQL NULL | `null` |
 *
 * Built-in types are known from static tables (OIDs are fixed below 10000). Enums, domains,
 * composites, and arrays and ranges of those are described by a `TypeLookup` filled from the
 * catalog; `missingTypes` names what it lacks. A type it does not describe is written as text.
 *
 * A writer never returns a wrong value: text that does not have its type's form throws a
 * `DecodeError` with tag `value`, naming the type and the offset in the text.
 */
import { UNCHANGED_TOAST, type TupleValue } from '../source/pgoutput/messages.js';
import { FIRST_GENBKI_OBJECT_ID, type TypeInfo, type TypeLookup } from '../source/type-info.js';
import { arrayWriter } from './pg-array.js';
import {
  timestampBytes,
  writeDate,
  writeInterval,
  writeTime,
  writeTimestamp,
  writeTimestamptz,
  writeTimetz,
} from './pg-datetime.js';
import { multirangeWriter, rangeWriter } from './pg-range.js';
import { recordWriter } from './pg-record.js';
import { HEX_DIGITS } from '../bytes.js';
import type { JsonBytes } from './json-bytes.js';
import { invalidValue } from './value-error.js';

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
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  interval: 1186,
  timetz: 1266,
  numeric: 1700,
  jsonb: 3802,
} as const;

/** Writes one value's JSON text. */
export type ValueWriter = (text: string) => string;

/**
 * Built-in arrays, from pg_type (PostgreSQL 15): [array OID, element OID, element delimiter if
 * not ',']. Left out: arrays of pseudo-types and of catalog row types. `int2vector` and
 * `oidvector` are not arrays here (they print as space-separated lists): they are text.
 */
const BUILTIN_ARRAYS: readonly (readonly [number, number, string?])[] = [
  [143, 142], // xml[]
  [199, 114], // json[]
  [271, 5069], // xid8[]
  [629, 628], // line[]
  [651, 650], // cidr[]
  [719, 718], // circle[]
  [775, 774], // macaddr8[]
  [791, 790], // money[]
  [1000, 16], // bool[]
  [1001, 17], // bytea[]
  [1002, 18], // char[]
  [1003, 19], // name[]
  [1005, 21], // int2[]
  [1006, 22], // int2vector[]
  [1007, 23], // int4[]
  [1008, 24], // regproc[]
  [1009, 25], // text[]
  [1010, 27], // tid[]
  [1011, 28], // xid[]
  [1012, 29], // cid[]
  [1013, 30], // oidvector[]
  [1014, 1042], // bpchar[]
  [1015, 1043], // varchar[]
  [1016, 20], // int8[]
  [1017, 600], // point[]
  [1018, 601], // lseg[]
  [1019, 602], // path[]
  [1020, 603, ';'], // box[]
  [1021, 700], // float4[]
  [1022, 701], // float8[]
  [1027, 604], // polygon[]
  [1028, 26], // oid[]
  [1034, 1033], // aclitem[]
  [1040, 829], // macaddr[]
  [1041, 869], // inet[]
  [1115, 1114], // timestamp[]
  [1182, 1082], // date[]
  [1183, 1083], // time[]
  [1185, 1184], // timestamptz[]
  [1187, 1186], // interval[]
  [1231, 1700], // numeric[]
  [1270, 1266], // timetz[]
  [1561, 1560], // bit[]
  [1563, 1562], // varbit[]
  [2201, 1790], // refcursor[]
  [2207, 2202], // regprocedure[]
  [2208, 2203], // regoper[]
  [2209, 2204], // regoperator[]
  [2210, 2205], // regclass[]
  [2211, 2206], // regtype[]
  [2949, 2970], // txid_snapshot[]
  [2951, 2950], // uuid[]
  [3221, 3220], // pg_lsn[]
  [3643, 3614], // tsvector[]
  [3644, 3642], // gtsvector[]
  [3645, 3615], // tsquery[]
  [3735, 3734], // regconfig[]
  [3770, 3769], // regdictionary[]
  [3807, 3802], // jsonb[]
  [3905, 3904], // int4range[]
  [3907, 3906], // numrange[]
  [3909, 3908], // tsrange[]
  [3911, 3910], // tstzrange[]
  [3913, 3912], // daterange[]
  [3927, 3926], // int8range[]
  [4073, 4072], // jsonpath[]
  [4090, 4089], // regnamespace[]
  [4097, 4096], // regrole[]
  [4192, 4191], // regcollation[]
  [5039, 5038], // pg_snapshot[]
  [6150, 4451], // int4multirange[]
  [6151, 4532], // nummultirange[]
  [6152, 4533], // tsmultirange[]
  [6153, 4534], // tstzmultirange[]
  [6155, 4535], // datemultirange[]
  [6157, 4536], // int8multirange[]
];

/** Built-in ranges (pg_range, PostgreSQL 14+): [range OID, subtype OID, multirange OID]. */
const BUILTIN_RANGES: readonly (readonly [number, number, number])[] = [
  [3904, 23, 4451], // int4range, int4multirange
  [3906, 1700, 4532], // numrange, nummultirange
  [3908, 1114, 4533], // tsrange, tsmultirange
  [3910, 1184, 4534], // tstzrange, tstzmultirange
  [3912, 1082, 4535], // daterange, datemultirange
  [3926, 20, 4536], // int8range, int8multirange
];

/** The built-in container types (arrays, ranges, multiranges), described as the catalog would. */
const BUILTIN_TYPES = new Map<number, TypeInfo>([
  ...BUILTIN_ARRAYS.map(([oid, element, delimiter]): [number, TypeInfo] => [
    oid,
    { kind: 'array', element, delimiter: delimiter ?? ',' },
  ]),
  ...BUILTIN_RANGES.map(([oid, subtype]): [number, TypeInfo] => [oid, { kind: 'range', subtype }]),
  ...BUILTIN_RANGES.map(([range, , oid]): [number, TypeInfo] => [oid, { kind: 'multirange', range }]),
]);

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_DASH = 0x2d;

/**
 * The length of the longest prefix of `text` that is a JSON number
 * (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`): `text.length` when all of it is one, else
 * the offset where it goes wrong. With `integer`, no fraction or exponent; with `unsigned`, no sign.
 */
function jsonNumberEnd(text: string, integer: boolean, unsigned: boolean): number {
  let i = 0;
  let c = text.charCodeAt(0);
  if (c === CH_DASH && !unsigned) c = text.charCodeAt(++i);
  if (c === CH_0) {
    c = text.charCodeAt(++i);
  } else if (c > CH_0 && c <= CH_9) {
    do c = text.charCodeAt(++i);
    while (c >= CH_0 && c <= CH_9);
  } else {
    return 0; // no digits: no prefix is a number
  }
  if (integer) return i;
  if (c === 0x2e /* . */) {
    const dot = i;
    do c = text.charCodeAt(++i);
    while (c >= CH_0 && c <= CH_9);
    if (i === dot + 1) return dot; // a dot without digits
  }
  if (c === 0x65 /* e */ || c === 0x45 /* E */) {
    const e = i;
    c = text.charCodeAt(++i);
    if (c === 0x2b /* + */ || c === CH_DASH) c = text.charCodeAt(++i);
    const digits = i;
    while (c >= CH_0 && c <= CH_9) c = text.charCodeAt(++i);
    if (i === digits) return e; // an exponent without digits
  }
  return i;
}

const asString: ValueWriter = (text) => JSON.stringify(text);

/** int2/int4/int8 (signed) and oid (unsigned): the text, once checked to be a plain integer. */
function integerWriter(type: string, unsigned: boolean): ValueWriter {
  return (text) => {
    const end = jsonNumberEnd(text, true, unsigned);
    if (end !== text.length || end === 0) throw invalidValue(type, text, end, 'not an integer');
    return text;
  };
}

/** numeric and float: exact digits as a JSON number; `NaN`, `Infinity`, `-Infinity` as strings. */
function numberWriter(type: string): ValueWriter {
  return (text) => {
    const end = jsonNumberEnd(text, false, false);
    if (end === text.length && end > 0) return text;
    if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') return `"${text}"`;
    throw invalidValue(type, text, end, 'not a number');
  };
}

const writeBool: ValueWriter = (text) => {
  if (text === 't') return 'true';
  if (text === 'f') return 'false';
  throw invalidValue('bool', text, 0, "expected 't' or 'f'");
};

/** json and jsonb text is JSON already: embed it as the value itself. */
const writeJson: ValueWriter = (text) => text;

/** bytea text output is `\x` + hex digit pairs: publish the bytes as base64. */
const writeBytea: ValueWriter = (text) => {
  if (!text.startsWith('\\x')) throw invalidValue('bytea', text, 0, "expected '\\x' and hex digits");
  const bytes = Buffer.from(text.slice(2), 'hex'); // stops at the first pair that is not hex
  if (bytes.length * 2 !== text.length - 2) {
    let i = 2 + bytes.length * 2;
    if (isHex(text.charCodeAt(i))) i++; // the first digit of the bad pair was good
    throw invalidValue('bytea', text, i, i === text.length ? 'odd number of hex digits' : 'not a hex digit');
  }
  return `"${bytes.toString('base64')}"`;
};

function isHex(c: number): boolean {
  return (c >= CH_0 && c <= CH_9) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** Built-in scalars with a mapping of their own; other built-in scalars are text. */
const SCALAR_WRITERS = new Map<number, ValueWriter>([
  [TypeOid.bool, writeBool],
  [TypeOid.bytea, writeBytea],
  [TypeOid.int8, integerWriter('int8', false)],
  [TypeOid.int2, integerWriter('int2', false)],
  [TypeOid.int4, integerWriter('int4', false)],
  [TypeOid.oid, integerWriter('oid', true)],
  [TypeOid.json, writeJson],
  [TypeOid.jsonb, writeJson],
  [TypeOid.float4, numberWriter('float4')],
  [TypeOid.float8, numberWriter('float8')],
  [TypeOid.numeric, numberWriter('numeric')],
  [TypeOid.date, writeDate],
  [TypeOid.time, writeTime],
  [TypeOid.timestamp, writeTimestamp],
  [TypeOid.timestamptz, writeTimestamptz],
  [TypeOid.interval, writeInterval],
  [TypeOid.timetz, writeTimetz],
]);

/**
 * Writes a value's JSON straight from the bytes of its text `[start, end)` (UTF-8, checked by the
 * decoder) when the text is in a form that is published as it is, or only needs JSON's escapes;
 * returns `false` without writing anything otherwise, and the caller writes the `ValueWriter`'s
 * result instead (which is also what reports invalid text). For any text both give the same JSON.
 */
export type ByteWriter = (src: Uint8Array, start: number, end: number, out: JsonBytes) => boolean;

/** Text as a JSON string: the bytes, with `"`, `\` and control characters escaped as JSON.stringify does. */
const quoteBytes: ByteWriter = (src, start, end, out) => {
  out.ensure(end - start + 2);
  let buf = out.buf;
  let p = out.pos;
  buf[p++] = CH_QUOTE;
  for (let i = start; i < end; i++) {
    const c = src[i]!;
    if (c >= 0x20 && c !== CH_QUOTE && c !== CH_BACKSLASH) {
      buf[p++] = c; // bytes above 0x7f are valid UTF-8, which JSON carries as it is
      continue;
    }
    // An escape takes up to 6 bytes: room for it and the rest (the buffer grows only as needed).
    out.pos = p;
    out.ensure(6 + end - i + 1);
    buf = out.buf;
    buf[p++] = CH_BACKSLASH;
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) {
      buf[p++] = short;
    } else {
      buf[p++] = 0x75; // u00XX, lowercase hex as JSON.stringify writes it
      buf[p++] = CH_0;
      buf[p++] = CH_0;
      buf[p++] = HEX_DIGITS[c >> 4]!;
      buf[p++] = HEX_DIGITS[c & 15]!;
    }
  }
  buf[p++] = CH_QUOTE;
  out.pos = p;
  return true;
};

const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
/** The two-character escapes of JSON, by the byte they stand for. */
const SHORT_ESCAPES: Record<number, number> = {
  [CH_QUOTE]: CH_QUOTE,
  [CH_BACKSLASH]: CH_BACKSLASH,
  0x08: 0x62, // \b
  0x0c: 0x66, // \f
  0x0a: 0x6e, // \n
  0x0d: 0x72, // \r
  0x09: 0x74, // \t
};

/** Where the digits of `[start, end)` end, from `i`: the index of the first byte that is not one. */
function digitsEnd(src: Uint8Array, i: number, end: number): number {
  while (i < end && src[i]! >= CH_0 && src[i]! <= CH_9) i++;
  return i;
}

/**
 * A plain decimal `-?(0|[1-9][0-9]*)` (with `fraction`, optionally `.[0-9]+`), published as it is;
 * anything else (exponents, NaN, infinities, invalid text) is left to the `ValueWriter`.
 */
function decimalBytes(unsigned: boolean, fraction: boolean): ByteWriter {
  return (src, start, end, out) => {
    let i = start;
    if (src[i] === CH_DASH && !unsigned) i++;
    const digits = i;
    i = digitsEnd(src, i, end);
    if (i === digits || (src[digits] === CH_0 && i > digits + 1)) return false;
    if (fraction && i < end && src[i] === 0x2e /* . */) {
      const dot = i;
      i = digitsEnd(src, i + 1, end);
      if (i === dot + 1) return false;
    }
    if (i !== end) return false;
    out.copy(src, start, end);
    return true;
  };
}

/** json and jsonb: the text itself. */
const rawBytes: ByteWriter = (src, start, end, out) => {
  out.copy(src, start, end);
  return true;
};

const TRUE = Buffer.from('true', 'latin1');
const FALSE = Buffer.from('false', 'latin1');

/** bool: `t` and `f`. */
const boolBytes: ByteWriter = (src, start, end, out) => {
  if (end !== start + 1 || (src[start] !== 0x74 && src[start] !== 0x66)) return false;
  out.bytes(src[start] === 0x74 ? TRUE : FALSE);
  return true;
};

/** The byte writers of the value writers that have one. */
const BYTE_WRITERS = new Map<ValueWriter, ByteWriter>([
  [asString, quoteBytes],
  [SCALAR_WRITERS.get(TypeOid.int2)!, decimalBytes(false, false)],
  [SCALAR_WRITERS.get(TypeOid.int4)!, decimalBytes(false, false)],
  [SCALAR_WRITERS.get(TypeOid.int8)!, decimalBytes(false, false)],
  [SCALAR_WRITERS.get(TypeOid.oid)!, decimalBytes(true, false)],
  [SCALAR_WRITERS.get(TypeOid.float4)!, decimalBytes(false, true)],
  [SCALAR_WRITERS.get(TypeOid.float8)!, decimalBytes(false, true)],
  [SCALAR_WRITERS.get(TypeOid.numeric)!, decimalBytes(false, true)],
  [writeJson, rawBytes],
  [writeBool, boolBytes],
  [writeTimestamp, timestampBytes(false)],
  [writeTimestamptz, timestampBytes(true)],
]);

/** The byte writer that gives the same JSON as `writer` for the texts it takes, if there is one. */
export function byteWriter(writer: ValueWriter): ByteWriter | null {
  return BYTE_WRITERS.get(writer) ?? null;
}

/** Writers of built-in types, built on first use (they do not depend on a lookup). */
const builtinWriters = new Map<number, ValueWriter>();

/**
 * The writer for a type OID: built-in mappings first, then the lookup; unknown → text as a JSON
 * string. Build it once per column and reuse it: containers compose their parts' writers here.
 */
export function valueWriter(typeOid: number, types?: TypeLookup): ValueWriter {
  if (types) return build(typeOid, types, []);
  let writer = builtinWriters.get(typeOid);
  if (!writer) {
    writer = build(typeOid, undefined, []);
    builtinWriters.set(typeOid, writer);
  }
  return writer;
}

/** What is known about a type: built-in tables first, then the lookup. */
function typeInfo(oid: number, types: TypeLookup | undefined): TypeInfo | undefined {
  return BUILTIN_TYPES.get(oid) ?? types?.get(oid);
}

/** `path` holds the OIDs being built, so a lookup that loops falls back to text instead of recursing forever. */
function build(oid: number, types: TypeLookup | undefined, path: number[]): ValueWriter {
  const scalar = SCALAR_WRITERS.get(oid);
  if (scalar) return scalar;
  const info = typeInfo(oid, types);
  if (!info || path.includes(oid)) return asString;
  path.push(oid);
  try {
    switch (info.kind) {
      case 'enum':
      case 'base':
        return asString;
      case 'domain':
        return build(info.base, types, path);
      case 'array':
        return arrayWriter(build(info.element, types, path), info.delimiter);
      case 'composite':
        return recordWriter(info.fields.map((f) => ({ name: f.name, write: build(f.type, types, path) })));
      case 'range':
        return rangeWriter(build(info.subtype, types, path));
      case 'multirange': {
        const range = typeInfo(info.range, types);
        return range?.kind === 'range' ? multirangeWriter(build(range.subtype, types, path)) : asString;
      }
    }
  } finally {
    path.pop();
  }
}

/**
 * The OIDs (of `typeOid` and, recursively, its element/base/field/subtype types) that
 * `valueWriter` would need from the lookup but that are neither built in nor in it, each once.
 * The pipeline queries the catalog for exactly these before building writers.
 */
export function missingTypes(typeOid: number, types?: TypeLookup): number[] {
  const missing: number[] = [];
  const seen = new Set<number>();
  const visit = (oid: number): void => {
    if (seen.has(oid)) return;
    seen.add(oid);
    if (SCALAR_WRITERS.has(oid)) return;
    const info = typeInfo(oid, types);
    if (!info) {
      if (oid >= FIRST_GENBKI_OBJECT_ID) missing.push(oid);
      return;
    }
    switch (info.kind) {
      case 'domain':
        return visit(info.base);
      case 'array':
        return visit(info.element);
      case 'composite':
        return info.fields.forEach((f) => visit(f.type));
      case 'range':
        return visit(info.subtype);
      case 'multirange':
        return visit(info.range);
      case 'enum':
      case 'base':
        return;
    }
  };
  visit(typeOid);
  return missing;
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

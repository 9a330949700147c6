/**
 * Range and multirange values: PostgreSQL's range text (range_out, multirange_out) → JSON objects.
 *
 * ```
 * [1,10)                                  → {"lower":1,"upper":10,"lowerInclusive":true,"upperInclusive":false}
 * (,6)                                    → {"lower":null,"upper":6,"lowerInclusive":false,"upperInclusive":false}
 * ["2024-01-01 00:00:00","2024-02-01 00:00:00")   bounds quoted like record fields
 * empty                                   → {"empty":true}
 * {[1,3),[5,7)}                           → a multirange: a JSON array of ranges; {} → []
 * ```
 *
 * Each bound goes through the subtype's writer. An empty bound is unbounded: null, and never
 * inclusive. A bound that is the subtype's own `infinity` (dates, timestamps) is a value, not
 * unbounded, and is written by the subtype's writer.
 */
import type { ValueWriter } from './values.js';
import { readField, type FieldText } from './pg-record.js';
import { invalidValue, nestedError } from './value-error.js';

const CH_LBRACKET = 0x5b;
const CH_RBRACKET = 0x5d;
const CH_LPAREN = 0x28;
const CH_RPAREN = 0x29;
const CH_COMMA = 0x2c;
const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;

const EMPTY_JSON = '{"empty":true}';

function isBoundStop(c: number): boolean {
  return c === CH_COMMA || c === CH_RPAREN || c === CH_RBRACKET;
}

/** The writer for ranges whose bounds are written by `subtype`. */
export function rangeWriter(subtype: ValueWriter): ValueWriter {
  return (text) => {
    const range = readRange('range', text, 0, subtype);
    if (range.end !== text.length)
      throw invalidValue('range', text, range.end, 'unexpected text after the range');
    return range.json;
  };
}

/** The writer for multiranges of ranges whose bounds are written by `subtype`. */
export function multirangeWriter(subtype: ValueWriter): ValueWriter {
  return (text) => {
    if (text.charCodeAt(0) !== CH_LBRACE) throw invalidValue('multirange', text, 0, "expected '{'");
    let pos = 1;
    let json = '[';
    if (text.charCodeAt(pos) === CH_RBRACE) {
      pos++;
    } else {
      for (;;) {
        const range = readRange('multirange', text, pos, subtype);
        if (range.json !== EMPTY_JSON) json += (json.length > 1 ? ',' : '') + range.json; // multirange_in drops empty ranges
        pos = range.end;
        const c = text.charCodeAt(pos++);
        if (c === CH_RBRACE) break;
        if (c !== CH_COMMA) throw invalidValue('multirange', text, pos - 1, "expected ',' or '}'");
      }
    }
    if (pos !== text.length) {
      throw invalidValue('multirange', text, pos, 'unexpected text after the multirange');
    }
    return json + ']';
  };
}

/** One range at `start` of `text` (`empty` or bracketed bounds): its JSON and where it ends. */
function readRange(
  type: string,
  text: string,
  start: number,
  subtype: ValueWriter,
): { json: string; end: number } {
  if (text.startsWith('empty', start)) return { json: EMPTY_JSON, end: start + 5 };
  const open = text.charCodeAt(start);
  if (open !== CH_LBRACKET && open !== CH_LPAREN)
    throw invalidValue(type, text, start, "expected '[' or '('");
  const lower = readField(type, text, start + 1, isBoundStop);
  if (text.charCodeAt(lower.end) !== CH_COMMA) throw invalidValue(type, text, lower.end, "expected ','");
  const upper = readField(type, text, lower.end + 1, isBoundStop);
  const close = text.charCodeAt(upper.end);
  if (close !== CH_RBRACKET && close !== CH_RPAREN) {
    throw invalidValue(type, text, upper.end, "expected ']' or ')'");
  }
  const json =
    `{"lower":${bound(type, text, lower, start + 1, subtype, 'lower')}` +
    `,"upper":${bound(type, text, upper, lower.end + 1, subtype, 'upper')}` +
    `,"lowerInclusive":${lower.value !== null && open === CH_LBRACKET}` +
    `,"upperInclusive":${upper.value !== null && close === CH_RBRACKET}}`;
  return { json, end: upper.end + 1 };
}

function bound(
  type: string,
  text: string,
  field: FieldText,
  start: number,
  subtype: ValueWriter,
  which: string,
): string {
  if (field.value === null) return 'null';
  try {
    return subtype(field.value);
  } catch (err) {
    const verbatim = field.verbatimStart >= 0;
    return nestedError(err, type, text, `${which} bound`, verbatim ? field.verbatimStart : start, verbatim);
  }
}

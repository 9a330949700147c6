/**
 * Composite (row) values: PostgreSQL's record text (record_out) → JSON objects keyed by field name.
 *
 * ```
 * (1,"a b",,"x""y")              fields in order; nothing between delimiters is NULL
 * ("",NULL,"back\\slash")        "" is the empty string; NULL unquoted is the text NULL, not null
 * ("(""Main St"",5)",2)          a nested record is a quoted field with its quotes doubled
 * ```
 *
 * Reading follows record_in: outside quotes, `\` escapes the next character; inside quotes, `""`
 * or `\"` is a quote and `\\` a backslash; a field may mix quoted and unquoted parts. White space
 * is part of the field. Ranges quote their bounds by the same rules, so `readField` serves both.
 */
import type { ValueWriter } from './values.js';
import { invalidValue, nestedError } from './value-error.js';

const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_LPAREN = 0x28;
const CH_RPAREN = 0x29;
const CH_COMMA = 0x2c;

/** One field of a composite type, with the writer of its type. */
export interface RecordField {
  name: string;
  write: ValueWriter;
}

/** A field read by `readField`. */
export interface FieldText {
  /** The field's text, unquoted; null when the field was empty (no characters at all). */
  value: string | null;
  /** Index of the character that ended the field (a stop character, or the text's length). */
  end: number;
  /** Where the field's characters start in the text, when they were copied unchanged; else -1. */
  verbatimStart: number;
}

/**
 * Reads one field starting at `start`, up to the first unquoted character for which `isStop` is
 * true. Throws (naming `type`) on an unterminated quote or a trailing backslash.
 */
export function readField(
  type: string,
  text: string,
  start: number,
  isStop: (c: number) => boolean,
): FieldText {
  let pos = start;
  if (pos >= text.length || isStop(text.charCodeAt(pos)))
    return { value: null, end: pos, verbatimStart: start };
  let value = '';
  let chunk = pos;
  let inQuote = false;
  let quotes = 0;
  let escapes = 0;
  for (;;) {
    if (pos >= text.length) {
      if (inQuote) throw invalidValue(type, text, start, 'unterminated quoted field');
      break;
    }
    const c = text.charCodeAt(pos);
    if (c === CH_BACKSLASH) {
      if (pos + 1 >= text.length) throw invalidValue(type, text, pos, 'backslash at the end');
      value += text.slice(chunk, pos);
      escapes++;
      chunk = pos + 1; // keep the escaped character
      pos += 2;
    } else if (c === CH_QUOTE) {
      value += text.slice(chunk, pos);
      if (inQuote && text.charCodeAt(pos + 1) === CH_QUOTE) {
        escapes++;
        chunk = pos + 1; // keep the second quote
        pos += 2;
      } else {
        inQuote = !inQuote;
        quotes++;
        pos++;
        chunk = pos;
      }
    } else if (!inQuote && isStop(c)) {
      break;
    } else {
      pos++;
    }
  }
  value += text.slice(chunk, pos);
  let verbatimStart = -1;
  if (escapes === 0 && quotes === 0) verbatimStart = start;
  else if (escapes === 0 && quotes === 2 && text.charCodeAt(start) === CH_QUOTE) {
    if (text.charCodeAt(pos - 1) === CH_QUOTE) verbatimStart = start + 1;
  }
  return { value, end: pos, verbatimStart };
}

function isRecordStop(c: number): boolean {
  return c === CH_COMMA || c === CH_RPAREN;
}

/** The writer for a composite type with these fields (in attribute order, dropped ones left out). */
export function recordWriter(fields: readonly RecordField[]): ValueWriter {
  const keys = fields.map((f, i) => (i > 0 ? ',' : '') + JSON.stringify(f.name) + ':');
  const writers = fields.map((f) => f.write);
  const count = fields.length;
  return (text) => {
    if (text.charCodeAt(0) !== CH_LPAREN) throw invalidValue('composite', text, 0, "expected '('");
    let pos = 1;
    let json = '{';
    if (count === 0 && text.charCodeAt(pos++) !== CH_RPAREN) {
      throw invalidValue('composite', text, 1, 'the type has no fields');
    }
    for (let i = 0; i < count; i++) {
      const field = readField('composite', text, pos, isRecordStop);
      json += keys[i]!;
      if (field.value === null) {
        json += 'null';
      } else {
        try {
          json += writers[i]!(field.value);
        } catch (err) {
          const verbatim = field.verbatimStart >= 0;
          const at = verbatim ? field.verbatimStart : pos;
          nestedError(err, 'composite', text, `field ${JSON.stringify(fields[i]!.name)}`, at, verbatim);
        }
      }
      pos = field.end;
      const c = text.charCodeAt(pos);
      const last = i === count - 1;
      if (c === (last ? CH_RPAREN : CH_COMMA)) {
        pos++;
      } else if (c === CH_RPAREN) {
        throw invalidValue('composite', text, pos, `${i + 1} fields where the type has ${count}`);
      } else if (c === CH_COMMA) {
        throw invalidValue('composite', text, pos, `more fields than the type's ${count}`);
      } else {
        throw invalidValue('composite', text, pos, last ? "expected ')'" : "expected ','");
      }
    }
    if (pos !== text.length) throw invalidValue('composite', text, pos, 'unexpected text after the record');
    return json + '}';
  };
}

/**
 * Array values: PostgreSQL's array text (array_out) → JSON arrays, nested per dimension.
 *
 * ```
 * [0:2]={1,2,3}                  optional dimension decoration, only when a lower bound is not 1
 * {{1,2},{3,4}}                  one brace level per dimension; every sub-array the same length
 * {"a b",NULL,"say \"hi\"",x}    `NULL` unquoted (any case) is null; quoted elements escape " and \
 * {(1,1),(0,0);(3,3),(2,2)}      the element type's delimiter: ',' for all but box (';')
 * ```
 *
 * Each element goes through the element type's writer. Lower bounds are checked against the
 * element counts and then dropped: a JSON array always starts at index 0. Reading follows
 * array_in: white space around an element is ignored, and a backslash escapes the next character
 * in unquoted elements too.
 */
import type { ValueWriter } from './values.js';
import { invalidValue, nestedError, preview } from './value-error.js';

/** PostgreSQL's MAXDIM: arrays have at most 6 dimensions. */
const MAX_DIMENSIONS = 6;

const CH_LBRACE = 0x7b;
const CH_RBRACE = 0x7d;
const CH_QUOTE = 0x22;
const CH_BACKSLASH = 0x5c;
const CH_LBRACKET = 0x5b;

/** array_isspace: space, \t, \n, \v, \f, \r. */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** The writer for arrays whose elements are written by `element` and separated by `delimiter`. */
export function arrayWriter(element: ValueWriter, delimiter: string): ValueWriter {
  const delim = delimiter.charCodeAt(0);
  return (text) => new ArrayReader(text, element, delim).read();
}

/** One pass over one array's text. */
class ArrayReader {
  private pos = 0;
  /** Element count at each depth (the first sub-array of that depth sets it). */
  private readonly lengths: number[] = [];
  /** The depth whose items are elements rather than sub-arrays; -1 until the first element. */
  private leafDepth = -1;

  constructor(
    private readonly text: string,
    private readonly write: ValueWriter,
    private readonly delim: number,
  ) {}

  read(): string {
    const text = this.text;
    const dims = text.charCodeAt(0) === CH_LBRACKET ? this.readDimensions() : null;
    if (text.charCodeAt(this.pos) !== CH_LBRACE) throw this.error(this.pos, "expected '{'");
    const json = this.readLevel(0);
    if (this.pos !== text.length) throw this.error(this.pos, 'unexpected text after the array');
    if (dims) {
      const lengths = this.lengths;
      if (dims.length !== lengths.length || dims.some((n, d) => n !== lengths[d])) {
        throw this.error(0, 'dimensions do not match the elements');
      }
    }
    return json;
  }

  /** `[lb:ub]...=`: returns the length of each dimension. */
  private readDimensions(): number[] {
    const dims: number[] = [];
    while (this.text.charCodeAt(this.pos) === CH_LBRACKET) {
      this.pos++;
      const lower = this.readInteger();
      this.expect(0x3a, "':'");
      const upper = this.readInteger();
      this.expect(0x5d, "']'");
      if (upper < lower - 1) throw this.error(this.pos - 1, 'upper bound below lower bound');
      dims.push(upper - lower + 1);
    }
    this.expect(0x3d, "'='");
    return dims;
  }

  private readInteger(): number {
    const start = this.pos;
    if (this.text.charCodeAt(this.pos) === 0x2d) this.pos++;
    const digits = this.pos;
    while (this.pos < this.text.length && this.pos - digits < 10) {
      const c = this.text.charCodeAt(this.pos);
      if (c < 0x30 || c > 0x39) break;
      this.pos++;
    }
    if (this.pos === digits) throw this.error(this.pos, 'expected a bound');
    return Number(this.text.slice(start, this.pos));
  }

  private expect(c: number, what: string): void {
    if (this.text.charCodeAt(this.pos) !== c) throw this.error(this.pos, `expected ${what}`);
    this.pos++;
  }

  private skipSpace(): void {
    while (isSpace(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** `{item,item,...}` at `pos`, where items are sub-arrays or elements. */
  private readLevel(depth: number): string {
    if (depth === MAX_DIMENSIONS) throw this.error(this.pos, `more than ${MAX_DIMENSIONS} dimensions`);
    this.pos++; // '{'
    this.skipSpace();
    if (this.text.charCodeAt(this.pos) === CH_RBRACE) {
      if (depth > 0) throw this.error(this.pos, 'empty sub-array');
      this.pos++;
      return '[]';
    }
    let json = '[';
    let count = 0;
    for (;;) {
      this.skipSpace();
      if (count > 0) json += ',';
      if (this.text.charCodeAt(this.pos) === CH_LBRACE) {
        if (this.leafDepth !== -1 && depth >= this.leafDepth) {
          throw this.error(this.pos, 'sub-array where an element was expected');
        }
        json += this.readLevel(depth + 1);
      } else {
        if (this.leafDepth === -1) this.leafDepth = depth;
        else if (this.leafDepth !== depth)
          throw this.error(this.pos, 'element where a sub-array was expected');
        json += this.readElement();
      }
      count++;
      this.skipSpace();
      const c = this.text.charCodeAt(this.pos);
      if (c === this.delim) {
        this.pos++;
      } else if (c === CH_RBRACE) {
        this.pos++;
        break;
      } else {
        const what = this.pos < this.text.length ? 'expected a delimiter or' : 'unterminated array, expected';
        throw this.error(this.pos, `${what} '}'`);
      }
    }
    const expected = this.lengths[depth];
    if (expected === undefined) this.lengths[depth] = count;
    else if (expected !== count) throw this.error(this.pos - 1, 'sub-arrays have different lengths');
    return json + ']';
  }

  /** One element (quoted or not) at `pos`, written as JSON. */
  private readElement(): string {
    const text = this.text;
    const start = this.pos;
    let value = '';
    let verbatim = true;
    if (text.charCodeAt(start) === CH_QUOTE) {
      let pos = start + 1;
      let chunk = pos;
      for (;;) {
        if (pos >= text.length) throw this.error(start, 'unterminated quoted element');
        const c = text.charCodeAt(pos);
        if (c === CH_BACKSLASH) {
          value += text.slice(chunk, pos);
          verbatim = false;
          chunk = pos + 1; // keep the escaped character
          pos += 2;
        } else if (c === CH_QUOTE) {
          value += text.slice(chunk, pos);
          break;
        } else {
          pos++;
        }
      }
      this.pos = pos + 1;
      return this.writeElement(value, verbatim ? start + 1 : start, verbatim);
    }
    let pos = start;
    let chunk = pos;
    let end = pos; // after the last character that is not trailing white space
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === this.delim || c === CH_RBRACE) break;
      if (c === CH_LBRACE || c === CH_QUOTE) throw this.error(pos, 'unexpected character in an element');
      if (c === CH_BACKSLASH) {
        if (pos + 1 >= text.length) throw this.error(pos, 'backslash at the end');
        value += text.slice(chunk, pos);
        verbatim = false;
        chunk = pos + 1;
        pos += 2;
        end = pos;
      } else {
        pos++;
        if (!isSpace(c)) end = pos;
      }
    }
    this.pos = pos;
    if (end === start) throw this.error(start, 'empty element');
    value += text.slice(chunk, end);
    if (verbatim && value.length === 4 && value.toUpperCase() === 'NULL') return 'null';
    return this.writeElement(value, start, verbatim);
  }

  private writeElement(value: string, start: number, verbatim: boolean): string {
    try {
      return this.write(value);
    } catch (err) {
      return nestedError(err, 'array', this.text, `element ${preview(value)}`, start, verbatim);
    }
  }

  private error(offset: number, reason: string) {
    return invalidValue('array', this.text, offset, reason);
  }
}

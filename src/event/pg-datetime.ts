/**
 * Date and time values: PostgreSQL's ISO output (`datestyle=ISO`, `timezone=UTC`,
 * `intervalstyle=iso_8601`) → ISO 8601 strings.
 *
 * | type          | PostgreSQL prints                     | published                         |
 * |---------------|---------------------------------------|-----------------------------------|
 * | `date`        | `2024-02-29`, `0044-03-15 BC`         | `2024-02-29`, `-0043-03-15`       |
 * | `timestamp`   | `2024-01-01 10:00:00.5`               | `2024-01-01T10:00:00.500000`      |
 * | `timestamptz` | `2024-01-01 10:00:00.5+00`            | `2024-01-01T10:00:00.500000Z`     |
 * | `time`        | `10:00:00`, `24:00:00`                | `10:00:00.000000`, `24:00:00.000000` |
 * | `timetz`      | `10:00:00+02`, `10:00:00-05:30:15`    | `10:00:00.000000+02:00`, `10:00:00.000000-05:30:15` |
 * | `interval`    | `P1Y2M3DT4H5M6.5S`, `PT0S`, `P-1D`    | the same text                     |
 *
 * Years: `YYYY` (more digits above 9999, as PostgreSQL prints them). BC years use ISO 8601
 * astronomical numbering: 1 BC is year `0000`, 44 BC is `-0043`. `infinity` and `-infinity`
 * (dates, timestamps; intervals from PostgreSQL 17) stay those strings. Fractions of a second
 * always have 6 digits (PostgreSQL omits or trims them).
 *
 * A `timestamptz` must end in `+00`: the replication session runs with `timezone=UTC`, so any
 * other offset means the session time zone was not UTC, and the value is refused rather than
 * published with a wrong instant.
 */
import type { ByteWriter, ValueWriter } from './values.js';
import { invalidValue } from './value-error.js';

const CH_0 = 0x30;
const CH_9 = 0x39;
const CH_DASH = 0x2d;
const CH_COLON = 0x3a;
const CH_DOT = 0x2e;
const CH_PLUS = 0x2b;
const CH_SPACE = 0x20;

/** The digit at `i`, or -1 when there is none. */
function digit(text: string, i: number): number {
  const c = text.charCodeAt(i); // NaN past the end
  return c >= CH_0 && c <= CH_9 ? c - CH_0 : -1;
}

/** Two digits at `i` as a number, or -1. */
function twoDigits(text: string, i: number): number {
  const a = digit(text, i);
  const b = digit(text, i + 1);
  return a < 0 || b < 0 ? -1 : a * 10 + b;
}

function isLeap(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

/** A date read by `readDate`: where its year's digits end, and the year as printed. */
interface DateParts {
  yearEnd: number;
  year: number;
}

/** PostgreSQL's largest year has 7 digits (dates end in 5874897 AD). */
const MAX_YEAR_DIGITS = 7;

/**
 * Reads `Y{4,}-MM-DD` at the start of `text` (up to `end`): checks month and day (proleptic
 * Gregorian, in astronomical years when `bc`) and returns the year.
 */
function readDate(type: string, text: string, end: number, bc: boolean): DateParts {
  let i = 0;
  let year = 0;
  for (let d = digit(text, i); d >= 0 && i < end; d = digit(text, ++i)) year = year * 10 + d;
  if (i < 4) throw invalidValue(type, text, i, 'expected a year of at least 4 digits');
  if (i > MAX_YEAR_DIGITS) throw invalidValue(type, text, 0, 'year out of range');
  if (year === 0) throw invalidValue(type, text, 0, 'year 0 does not exist');
  const yearEnd = i;
  if (text.charCodeAt(i) !== CH_DASH) throw invalidValue(type, text, i, "expected '-'");
  const month = twoDigits(text, i + 1);
  if (month < 1 || month > 12) throw invalidValue(type, text, i + 1, 'bad month');
  if (text.charCodeAt(i + 3) !== CH_DASH) throw invalidValue(type, text, i + 3, "expected '-'");
  const day = twoDigits(text, i + 4);
  const astronomical = bc ? 1 - year : year;
  const days = month === 2 && isLeap(astronomical) ? 29 : DAYS_IN_MONTH[month - 1]!;
  if (day < 1 || day > days) throw invalidValue(type, text, i + 4, 'bad day');
  return { yearEnd, year };
}

/** `YYYY-MM-DD` of a date read by `readDate`, with an astronomical signed year when BC. */
function isoDate(text: string, parts: DateParts, bc: boolean): string {
  const rest = text.slice(parts.yearEnd, parts.yearEnd + 6); // -MM-DD
  if (!bc) return text.slice(0, parts.yearEnd) + rest;
  const astronomical = parts.year - 1; // as a magnitude: 1 BC → 0, 44 BC → 43
  return (astronomical === 0 ? '' : '-') + String(astronomical).padStart(4, '0') + rest;
}

/** True when the text ends in ` BC`. */
function isBc(text: string): boolean {
  return text.endsWith(' BC');
}

/** Where `readTime` found the fraction of a second. */
interface TimeParts {
  /** Index after the time (after the fraction, if any). */
  end: number;
  /** The fraction's digits, without the dot ('' when there is none). */
  fraction: string;
}

/** Reads `HH:MM:SS[.f{1,6}]` at `i`; `allow24` admits exactly `24:00:00`. */
function readTime(type: string, text: string, i: number, allow24: boolean): TimeParts {
  const hour = twoDigits(text, i);
  if (hour < 0 || hour > (allow24 ? 24 : 23)) throw invalidValue(type, text, i, 'bad hour');
  if (text.charCodeAt(i + 2) !== CH_COLON) throw invalidValue(type, text, i + 2, "expected ':'");
  const minute = twoDigits(text, i + 3);
  if (minute < 0 || minute > 59) throw invalidValue(type, text, i + 3, 'bad minute');
  if (text.charCodeAt(i + 5) !== CH_COLON) throw invalidValue(type, text, i + 5, "expected ':'");
  const second = twoDigits(text, i + 6);
  if (second < 0 || second > 59) throw invalidValue(type, text, i + 6, 'bad second');
  let end = i + 8;
  let fraction = '';
  if (text.charCodeAt(end) === CH_DOT) {
    let j = end + 1;
    while (digit(text, j) >= 0) j++;
    if (j === end + 1 || j - end - 1 > 6) {
      throw invalidValue(type, text, end + 1, 'expected 1 to 6 fractional digits');
    }
    fraction = text.slice(end + 1, j);
    end = j;
  }
  if (hour === 24 && (minute !== 0 || second !== 0 || /[1-9]/.test(fraction))) {
    throw invalidValue(type, text, i, 'time past 24:00:00');
  }
  return { end, fraction };
}

/** `HH:MM:SS.ffffff` of a time read by `readTime` at `start`. */
function isoTime(text: string, start: number, parts: TimeParts): string {
  return `${text.slice(start, start + 8)}.${parts.fraction}${'000000'.slice(parts.fraction.length)}`;
}

/** Throws unless the text ends at `i`. */
function expectEnd(type: string, text: string, i: number, end: number): void {
  if (i !== end) throw invalidValue(type, text, i, 'unexpected text');
}

/** `date` → `YYYY-MM-DD` (astronomical year when BC); infinities as strings. */
export const writeDate: ValueWriter = (text) => {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  const bc = isBc(text);
  const end = bc ? text.length - 3 : text.length;
  const parts = readDate('date', text, end, bc);
  expectEnd('date', text, parts.yearEnd + 6, end);
  return `"${isoDate(text, parts, bc)}"`;
};

/** Shared by `timestamp` and `timestamptz`: the date and time, `T`-separated, and where they end. */
function readTimestamp(type: string, text: string, end: number, bc: boolean): { iso: string; end: number } {
  const date = readDate(type, text, end, bc);
  const space = date.yearEnd + 6;
  if (text.charCodeAt(space) !== CH_SPACE) throw invalidValue(type, text, space, "expected ' '");
  const time = readTime(type, text, space + 1, false);
  return { iso: `${isoDate(text, date, bc)}T${isoTime(text, space + 1, time)}`, end: time.end };
}

/**
 * The fields of a timestamp in its usual form, `YYYY-MM-DD HH:MM:SS[.f{1,6}]` with a four-digit
 * year AD (given as century and year of the century), are all in range: what `readTimestamp`
 * checks. A digit that is missing is -1.
 */
function usualFieldsInRange(
  century: number,
  yy: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): boolean {
  if (century < 0 || yy < 0 || (century === 0 && yy === 0) || month < 1 || month > 12) return false;
  const days = month === 2 && isLeap(century * 100 + yy) ? 29 : DAYS_IN_MONTH[month - 1]!;
  return (
    day >= 1 &&
    day <= days &&
    hour >= 0 &&
    hour <= 23 &&
    minute >= 0 &&
    minute <= 59 &&
    second >= 0 &&
    second <= 59
  );
}

/** Two digits at `i` of `src`, or -1. */
function twoDigitsAt(src: Uint8Array, i: number): number {
  const a = src[i]! - CH_0;
  const b = src[i + 1]! - CH_0;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
}

/**
 * Where the time of a timestamp in its usual form ends, read from the bytes `[start, end)` of its
 * text (see `usualFieldsInRange`); -1 for anything else, which the string writers read (other
 * years, BC, infinities, errors). Most values of a table are in this form.
 */
function usualTimestampEndBytes(src: Uint8Array, start: number, end: number): number {
  if (
    end - start < 19 ||
    src[start + 4] !== CH_DASH ||
    src[start + 7] !== CH_DASH ||
    src[start + 10] !== CH_SPACE ||
    src[start + 13] !== CH_COLON ||
    src[start + 16] !== CH_COLON
  ) {
    return -1;
  }
  const inRange = usualFieldsInRange(
    twoDigitsAt(src, start),
    twoDigitsAt(src, start + 2),
    twoDigitsAt(src, start + 5),
    twoDigitsAt(src, start + 8),
    twoDigitsAt(src, start + 11),
    twoDigitsAt(src, start + 14),
    twoDigitsAt(src, start + 17),
  );
  if (!inRange) return -1;
  if (start + 19 === end || src[start + 19] !== CH_DOT) return start + 19;
  let i = start + 20;
  while (i < end && src[i]! >= CH_0 && src[i]! <= CH_9) i++;
  return i > start + 20 && i <= start + 26 ? i : -1;
}

/**
 * `timestamp` (or, with `tz`, `timestamptz` ending in `+00`) in its usual form, written from the
 * bytes of its text as `writeTimestamp` and `writeTimestamptz` write it; any other form is left
 * to them.
 */
export function timestampBytes(tz: boolean): ByteWriter {
  return (src, start, end, out) => {
    const textEnd = tz ? end - 3 : end;
    if (tz && (src[textEnd] !== CH_PLUS || src[textEnd + 1] !== CH_0 || src[textEnd + 2] !== CH_0))
      return false;
    const timeEnd = usualTimestampEndBytes(src, start, textEnd);
    if (timeEnd !== textEnd) return false;
    out.ensure(32);
    const buf = out.buf;
    let p = out.pos;
    buf[p++] = 0x22; // "
    for (let i = start; i < start + 10; i++) buf[p++] = src[i]!;
    buf[p++] = 0x54; // T
    for (let i = start + 11; i < timeEnd; i++) buf[p++] = src[i]!;
    const fraction = timeEnd === start + 19 ? 0 : timeEnd - start - 20;
    if (fraction === 0) buf[p++] = CH_DOT;
    for (let k = fraction; k < 6; k++) buf[p++] = CH_0;
    if (tz) buf[p++] = 0x5a; // Z
    buf[p++] = 0x22;
    out.pos = p;
    return true;
  };
}

/** `timestamp` → `YYYY-MM-DDTHH:MM:SS.ffffff`; infinities as strings. */
export const writeTimestamp: ValueWriter = (text) => {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  const bc = isBc(text);
  const end = bc ? text.length - 3 : text.length;
  const ts = readTimestamp('timestamp', text, end, bc);
  expectEnd('timestamp', text, ts.end, end);
  return `"${ts.iso}"`;
};

/** `timestamptz` (UTC session, so `+00`) → `YYYY-MM-DDTHH:MM:SS.ffffffZ`; infinities as strings. */
export const writeTimestamptz: ValueWriter = (text) => {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  const bc = isBc(text);
  const end = bc ? text.length - 3 : text.length;
  const ts = readTimestamp('timestamptz', text, end, bc);
  if (ts.end + 3 !== end || !text.startsWith('+00', ts.end)) {
    const sign = text.charCodeAt(ts.end);
    throw sign === CH_PLUS || sign === CH_DASH
      ? invalidValue('timestamptz', text, ts.end, 'offset is not +00 (the session time zone is not UTC)')
      : invalidValue('timestamptz', text, ts.end, 'expected the offset +00');
  }
  return `"${ts.iso}Z"`;
};

/** `time` → `HH:MM:SS.ffffff` (`24:00:00` included). */
export const writeTime: ValueWriter = (text) => {
  const time = readTime('time', text, 0, true);
  expectEnd('time', text, time.end, text.length);
  return `"${isoTime(text, 0, time)}"`;
};

/** `timetz` → `HH:MM:SS.ffffff±HH:MM`, with `:SS` when the offset has seconds. */
export const writeTimetz: ValueWriter = (text) => {
  const time = readTime('timetz', text, 0, true);
  let i = time.end;
  const sign = text.charCodeAt(i);
  if (sign !== CH_PLUS && sign !== CH_DASH) throw invalidValue('timetz', text, i, 'expected an offset');
  const hours = twoDigits(text, i + 1);
  if (hours < 0 || hours > 15) throw invalidValue('timetz', text, i + 1, 'bad offset hours');
  let offset = text.slice(i, i + 3);
  i += 3;
  if (text.charCodeAt(i) === CH_COLON) {
    const minutes = twoDigits(text, i + 1);
    if (minutes < 0 || minutes > 59) throw invalidValue('timetz', text, i + 1, 'bad offset minutes');
    offset += text.slice(i, i + 3);
    i += 3;
    if (text.charCodeAt(i) === CH_COLON) {
      const seconds = twoDigits(text, i + 1);
      if (seconds < 0 || seconds > 59) throw invalidValue('timetz', text, i + 1, 'bad offset seconds');
      offset += text.slice(i, i + 3);
      i += 3;
    }
  } else {
    offset += ':00';
  }
  expectEnd('timetz', text, i, text.length);
  return `"${isoTime(text, 0, time)}${offset}"`;
};

/** ISO 8601 duration designators, in the order they may appear: before `T`, then after it. */
const DATE_DESIGNATORS = 'YMWD';
const TIME_DESIGNATORS = 'HMS';

/**
 * `interval` (`intervalstyle=iso_8601`) → its text, once checked to be an ISO 8601 duration:
 * `[-]P[nY][nM][nW][nD][T[nH][nM][n[.f]S]]` with at least one part, each number optionally
 * signed (PostgreSQL signs each field: `P-1Y-2M3DT-4H`). `infinity` and `-infinity` as strings.
 */
export const writeInterval: ValueWriter = (text) => {
  if (text === 'infinity' || text === '-infinity') return `"${text}"`;
  let i = text.charCodeAt(0) === CH_DASH ? 1 : 0;
  if (text.charCodeAt(i) !== 0x50 /* P */) throw invalidValue('interval', text, i, "expected 'P'");
  i++;
  let designators = DATE_DESIGNATORS;
  let next = 0; // index in `designators` of the first one still allowed
  let parts = 0;
  while (i < text.length) {
    if (text.charCodeAt(i) === 0x54 /* T */ && designators === DATE_DESIGNATORS) {
      designators = TIME_DESIGNATORS;
      next = 0;
      i++;
      if (i === text.length) throw invalidValue('interval', text, i, "expected a time part after 'T'");
      continue;
    }
    const start = i;
    if (text.charCodeAt(i) === CH_DASH) i++;
    const digitsStart = i;
    while (digit(text, i) >= 0) i++;
    if (i === digitsStart) throw invalidValue('interval', text, start, 'expected a number');
    if (text.charCodeAt(i) === CH_DOT) {
      const fractionStart = ++i;
      while (digit(text, i) >= 0) i++;
      if (i === fractionStart || text[i] !== 'S') {
        throw invalidValue('interval', text, fractionStart, 'only seconds may have a fraction');
      }
    }
    const at = designators.indexOf(text[i] ?? '', next);
    if (at < 0) throw invalidValue('interval', text, i, 'expected a designator');
    next = at + 1;
    parts++;
    i++;
  }
  if (parts === 0) throw invalidValue('interval', text, i, 'empty duration');
  return `"${text}"`; // only sign, digits, '.', 'P', 'T' and designators: nothing to escape
};

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypeOid, valueWriter } from '../../src/event/values.js';
import { assertInvalid } from './invalid-value.js';

// Inputs are PostgreSQL 15 output with datestyle=ISO,YMD, timezone=UTC, intervalstyle=iso_8601.
const date = valueWriter(TypeOid.date);
const timestamp = valueWriter(TypeOid.timestamp);
const timestamptz = valueWriter(TypeOid.timestamptz);
const time = valueWriter(TypeOid.time);
const timetz = valueWriter(TypeOid.timetz);
const interval = valueWriter(TypeOid.interval);

describe('date', () => {
  test('ISO dates, leap day, years above 9999, infinities', () => {
    assert.equal(date('2024-02-29'), '"2024-02-29"');
    assert.equal(date('2000-02-29'), '"2000-02-29"');
    assert.equal(date('12345-06-07'), '"12345-06-07"');
    assert.equal(date('5874897-12-31'), '"5874897-12-31"');
    assert.equal(date('infinity'), '"infinity"');
    assert.equal(date('-infinity'), '"-infinity"');
  });

  test('BC dates use astronomical year numbering', () => {
    assert.equal(date('0044-03-15 BC'), '"-0043-03-15"');
    assert.equal(date('0001-01-01 BC'), '"0000-01-01"');
    assert.equal(date('0002-12-31 BC'), '"-0001-12-31"');
    assert.equal(date('4713-01-01 BC'), '"-4712-01-01"');
    assert.equal(date('0001-02-29 BC'), '"0000-02-29"'); // 1 BC = year 0, a leap year
  });

  test('malformed dates are refused where they go wrong', () => {
    assertInvalid(date, '2024-13-01', 5, /invalid date value "2024-13-01": bad month/);
    assertInvalid(date, '2023-02-29', 8, /bad day/);
    assertInvalid(date, '1900-02-29', 8, /bad day/); // not a leap year
    assertInvalid(date, '2024-04-31', 8, /bad day/);
    assertInvalid(date, '2024-00-10', 5, /bad month/);
    assertInvalid(date, '24-01-01', 2, /at least 4 digits/);
    assertInvalid(date, '2024/01/01', 4, /expected '-'/);
    assertInvalid(date, '2024-01-01x', 10, /unexpected text/);
    assertInvalid(date, '2024-01-01 10:00:00', 10, /unexpected text/);
    assertInvalid(date, '0000-01-01', 0, /year 0/);
    assertInvalid(date, '12345678-01-01', 0, /year out of range/);
    assertInvalid(date, '0002-02-29 BC', 8, /bad day/); // 2 BC = year -1, not leap
    assertInvalid(date, '', 0, /invalid date value ""/);
    assertInvalid(date, 'Infinity', 0, /invalid date value/);
  });
});

describe('timestamp and timestamptz', () => {
  test('the fraction is always 6 digits', () => {
    assert.equal(timestamp('2024-01-01 10:00:00'), '"2024-01-01T10:00:00.000000"');
    assert.equal(timestamp('2024-01-01 10:00:00.5'), '"2024-01-01T10:00:00.500000"');
    assert.equal(timestamp('2024-01-01 10:00:00.123456'), '"2024-01-01T10:00:00.123456"');
    assert.equal(timestamp('2024-02-29 23:59:59.000001'), '"2024-02-29T23:59:59.000001"');
    assert.equal(timestamptz('2024-01-01 10:00:00+00'), '"2024-01-01T10:00:00.000000Z"');
    assert.equal(timestamptz('2024-01-01 08:00:00.5+00'), '"2024-01-01T08:00:00.500000Z"');
  });

  test('BC, 5-digit years and infinities', () => {
    assert.equal(timestamp('0044-03-15 10:00:00.25 BC'), '"-0043-03-15T10:00:00.250000"');
    assert.equal(timestamptz('0044-03-15 10:00:00+00 BC'), '"-0043-03-15T10:00:00.000000Z"');
    assert.equal(timestamp('12345-01-01 00:00:00'), '"12345-01-01T00:00:00.000000"');
    assert.equal(timestamptz('12345-01-01 00:00:00+00'), '"12345-01-01T00:00:00.000000Z"');
    assert.equal(timestamp('infinity'), '"infinity"');
    assert.equal(timestamptz('-infinity'), '"-infinity"');
  });

  test('a timestamptz offset other than +00 means the session was not in UTC: refused', () => {
    // PostgreSQL 15 output with timezone=Asia/Kolkata.
    assertInvalid(timestamptz, '2024-01-01 15:30:00+05:30', 19, /invalid timestamptz value .*not UTC/);
    assertInvalid(timestamptz, '1900-01-01 05:21:10+05:21:10', 19, /not UTC/);
    assertInvalid(timestamptz, '2024-01-01 10:00:00-01', 19, /not UTC/);
    assertInvalid(timestamptz, '2024-01-01 10:00:00', 19, /expected the offset \+00/);
    assertInvalid(timestamptz, '2024-01-01 10:00:00+000', 19, /not UTC/);
  });

  test('every field at and past its bounds, against the calendar of Date', () => {
    // The expected text is built from the fields and Date's (proleptic Gregorian) calendar, not
    // from the code under test; each value goes through timestamp and timestamptz alike.
    const pad = (n: number, width = 2) => String(n).padStart(width, '0');
    const isRealDay = (y: number, m: number, d: number) => {
      const date = new Date(0);
      date.setUTCFullYear(y, m - 1, d);
      return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
    };
    let checked = 0;
    for (const year of [1, 99, 1900, 1999, 2000, 2023, 2024, 2100, 9999]) {
      for (const [month, day] of [
        [0, 1],
        [1, 0],
        [1, 31],
        [1, 32],
        [2, 28],
        [2, 29],
        [2, 30],
        [4, 30],
        [4, 31],
        [12, 31],
        [13, 1],
      ] as const) {
        for (const [hour, minute, second] of [
          [0, 0, 0],
          [23, 59, 59],
          [24, 0, 0],
          [10, 60, 0],
          [10, 0, 60],
        ] as const) {
          for (const fraction of ['', '.5', '.000001', '.123456', '.1234567', '.']) {
            const text = `${pad(year, 4)}-${pad(month)}-${pad(day)} ${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}`;
            const valid =
              month >= 1 &&
              month <= 12 &&
              isRealDay(year, month, day) &&
              hour < 24 &&
              minute < 60 &&
              second < 60 &&
              fraction !== '.' &&
              fraction.length <= 7;
            const digits = fraction.slice(1).padEnd(6, '0');
            const iso = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}.${digits}`;
            if (valid) {
              assert.equal(timestamp(text), `"${iso}"`, text);
              assert.equal(timestamptz(`${text}+00`), `"${iso}Z"`, text);
            } else {
              assert.throws(() => timestamp(text), /invalid timestamp value/, text);
              assert.throws(() => timestamptz(`${text}+00`), /invalid timestamptz value/, text);
            }
            checked++;
          }
        }
      }
    }
    assert.equal(checked, 9 * 11 * 5 * 6);
  });

  test('year 0000 does not exist, and a timestamptz must end with +00', () => {
    assertInvalid(timestamp, '0000-01-01 10:00:00', 0, /year 0 does not exist/);
    assertInvalid(timestamptz, '0000-01-01 10:00:00+00', 0, /year 0 does not exist/);
    assertInvalid(timestamptz, '2024-01-01 10:00:00.5+01', 21, /not UTC/);
    assertInvalid(timestamptz, '2024-01-01 10:00:00.5+00 ', 21, /not UTC|expected the offset/);
  });

  test('malformed timestamps are refused', () => {
    assertInvalid(timestamp, '2024-01-01T10:00:00', 10, /invalid timestamp value .*expected ' '/);
    assertInvalid(timestamp, '2024-01-01 24:00:00', 11, /bad hour/);
    assertInvalid(timestamp, '2024-01-01 10:60:00', 14, /bad minute/);
    assertInvalid(timestamp, '2024-01-01 10:00:60', 17, /bad second/);
    assertInvalid(timestamp, '2024-01-01 10:00:00.', 20, /fractional digits/);
    assertInvalid(timestamp, '2024-01-01 10:00:00.1234567', 20, /fractional digits/);
    assertInvalid(timestamp, '2024-01-01 10:00:00+00', 19, /unexpected text/);
    assertInvalid(timestamp, '2024-02-30 10:00:00', 8, /bad day/);
    assertInvalid(timestamp, '2024-01-01 10:00', 16, /expected ':'/);
  });
});

describe('time and timetz', () => {
  test('time always has 6 fractional digits; 24:00:00 is valid', () => {
    assert.equal(time('00:00:00'), '"00:00:00.000000"');
    assert.equal(time('10:00:00.5'), '"10:00:00.500000"');
    assert.equal(time('23:59:59.999999'), '"23:59:59.999999"');
    assert.equal(time('24:00:00'), '"24:00:00.000000"');
  });

  test('timetz offsets become ±HH:MM, keeping seconds', () => {
    assert.equal(timetz('10:00:00+02'), '"10:00:00.000000+02:00"');
    assert.equal(timetz('10:00:00.5+05:30'), '"10:00:00.500000+05:30"');
    assert.equal(timetz('10:00:00-05:30:15'), '"10:00:00.000000-05:30:15"');
    assert.equal(timetz('24:00:00+00'), '"24:00:00.000000+00:00"');
    assert.equal(timetz('10:00:00-15:59'), '"10:00:00.000000-15:59"');
  });

  test('malformed times are refused', () => {
    assertInvalid(time, '24:00:01', 0, /invalid time value "24:00:01": time past 24:00:00/);
    assertInvalid(time, '24:00:00.000001', 0, /past 24:00:00/);
    assertInvalid(time, '25:00:00', 0, /bad hour/);
    assertInvalid(time, '10:00', 5, /expected ':'/);
    assertInvalid(time, '10:00:00+02', 8, /unexpected text/);
    assertInvalid(timetz, '10:00:00', 8, /invalid timetz value .*expected an offset/);
    assertInvalid(timetz, '10:00:00+2', 9, /bad offset hours/);
    assertInvalid(timetz, '10:00:00+16', 9, /bad offset hours/);
    assertInvalid(timetz, '10:00:00+05:60', 12, /bad offset minutes/);
    assertInvalid(timetz, '10:00:00+05:30:15:00', 17, /unexpected text/);
  });
});

describe('interval', () => {
  test('ISO 8601 durations as PostgreSQL prints them', () => {
    assert.equal(interval('P1Y2M3DT4H5M6.5S'), '"P1Y2M3DT4H5M6.5S"');
    assert.equal(interval('PT0S'), '"PT0S"');
    assert.equal(interval('P-1D'), '"P-1D"');
    assert.equal(interval('P-1Y-2M3DT-4H-5M-6S'), '"P-1Y-2M3DT-4H-5M-6S"');
    assert.equal(interval('PT1.5S'), '"PT1.5S"');
    assert.equal(interval('PT-0.5S'), '"PT-0.5S"');
    assert.equal(interval('P7D'), '"P7D"');
    assert.equal(interval('-P1D'), '"-P1D"');
    assert.equal(interval('infinity'), '"infinity"'); // PostgreSQL 17
  });

  test('other interval styles and malformed durations are refused', () => {
    assertInvalid(interval, '1 day', 0, /invalid interval value "1 day": expected 'P'/);
    assertInvalid(interval, '@ 1 day', 0, /expected 'P'/);
    assertInvalid(interval, '1 year 2 mons', 0, /expected 'P'/);
    assertInvalid(interval, 'P', 1, /empty duration/);
    assertInvalid(interval, 'PT', 2, /time part/);
    assertInvalid(interval, 'P1D2Y', 4, /designator/);
    assertInvalid(interval, 'P1.5D', 3, /only seconds/);
    assertInvalid(interval, 'P1DT1D', 5, /designator/);
    assertInvalid(interval, 'PYD', 1, /expected a number/);
    assertInvalid(interval, 'P1D ', 3, /expected a number/);
  });
});

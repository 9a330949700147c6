import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../src/errors.js';
import { valueWriter } from '../../src/event/values.js';
import type { TypeInfo, TypeLookup } from '../../src/source/type-info.js';
import { assertInvalid } from './invalid-value.js';

// Built-in range and multirange OIDs (pg_range, PostgreSQL 15).
const INT4RANGE = 3904;
const NUMRANGE = 3906;
const TSRANGE = 3908;
const TSTZRANGE = 3910;
const DATERANGE = 3912;
const INT8RANGE = 3926;
const INT4MULTIRANGE = 4451;
const NUMMULTIRANGE = 4532;
const TSMULTIRANGE = 4533;
const DATEMULTIRANGE = 4535;
// CREATE TYPE textrange AS RANGE (subtype = text): a user range, through the lookup.
const TEXTRANGE = 16411;
const TEXTMULTIRANGE = 16409;
const types: TypeLookup = new Map<number, TypeInfo>([
  [TEXTRANGE, { kind: 'range', subtype: 25 }],
  [TEXTMULTIRANGE, { kind: 'multirange', range: TEXTRANGE }],
]);

const write = (oid: number, text: string) => JSON.parse(valueWriter(oid, types)(text)) as unknown;
const range = (lower: unknown, upper: unknown, lowerInclusive: boolean, upperInclusive: boolean) => ({
  lower,
  upper,
  lowerInclusive,
  upperInclusive,
});

// Every input below is PostgreSQL 15 output of `SELECT <range>::text` (UTC, ISO dates).
describe('ranges', () => {
  test('bounds, inclusivity, unbounded sides and empty', () => {
    // '[1,10)'::int4range
    assert.equal(
      valueWriter(INT4RANGE)('[1,10)'),
      '{"lower":1,"upper":10,"lowerInclusive":true,"upperInclusive":false}',
    );
    // '(,5]'::int4range
    assert.deepEqual(write(INT4RANGE, '(,6)'), range(null, 6, false, false));
    // '[1,)'::int4range and '(,)'::int4range
    assert.deepEqual(write(INT4RANGE, '[1,)'), range(1, null, true, false));
    assert.deepEqual(write(INT4RANGE, '(,)'), range(null, null, false, false));
    // Not printed by PostgreSQL (it writes unbounded sides with parentheses), but never inclusive.
    assert.deepEqual(write(INT4RANGE, '[,]'), range(null, null, false, false));
    // 'empty'::int4range
    assert.deepEqual(write(INT4RANGE, 'empty'), { empty: true });
    // '[1.5,2.25]'::numrange
    assert.equal(
      valueWriter(NUMRANGE)('[1.5,2.25]'),
      '{"lower":1.5,"upper":2.25,"lowerInclusive":true,"upperInclusive":true}',
    );
    assert.equal(
      valueWriter(INT8RANGE)('[9223372036854775806,)').slice(0, 29),
      '{"lower":9223372036854775806,',
    );
  });

  test('bounds go through the subtype writer, quoted ones included', () => {
    // '[2024-01-01,2024-02-01)'::tsrange
    assert.deepEqual(
      write(TSRANGE, '["2024-01-01 00:00:00","2024-02-01 00:00:00")'),
      range('2024-01-01T00:00:00.000000', '2024-02-01T00:00:00.000000', true, false),
    );
    // '[2024-01-01,2024-02-01]'::tstzrange
    assert.deepEqual(
      write(TSTZRANGE, '["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00"]'),
      range('2024-01-01T00:00:00.000000Z', '2024-02-01T00:00:00.000000Z', true, true),
    );
    // '[2024-01-01 10:00:00.5+00,infinity)'::tstzrange: infinity is a value, not unbounded
    assert.deepEqual(
      write(TSTZRANGE, '["2024-01-01 10:00:00.5+00",infinity)'),
      range('2024-01-01T10:00:00.500000Z', 'infinity', true, false),
    );
    // '[2024-01-01,infinity)'::daterange
    assert.deepEqual(write(DATERANGE, '[2024-01-01,infinity)'), range('2024-01-01', 'infinity', true, false));
  });

  test('text bounds quoted like record fields (a user range from the lookup)', () => {
    // textrange values: '["a b","c\\\\d""e")', '[a,z]', '("","x,y")'
    assert.deepEqual(write(TEXTRANGE, '["a b","c\\\\\\\\d""e")'), range('a b', 'c\\\\d"e', true, false));
    assert.deepEqual(write(TEXTRANGE, '[a,z]'), range('a', 'z', true, true));
    assert.deepEqual(write(TEXTRANGE, '("","x,y")'), range('', 'x,y', false, false));
  });

  test('malformed ranges are refused', () => {
    const ints = valueWriter(INT4RANGE);
    assertInvalid(ints, '1,10', 0, /invalid range value "1,10": expected '\[' or '\('/);
    assertInvalid(ints, '[1;10)', 5, /expected ','/);
    assertInvalid(ints, '[1,10', 5, /expected '\]' or '\)'/);
    assertInvalid(ints, '[1,10)x', 6, /unexpected text after the range/);
    assertInvalid(ints, '[1,2,3)', 4, /expected '\]' or '\)'/);
    assertInvalid(ints, 'EMPTY', 0, /expected '\[' or '\('/);
    assertInvalid(valueWriter(TEXTRANGE, types), '["a,b)', 1, /unterminated quoted field/);
  });

  test('a bad bound is reported at its place, with the subtype error as cause', () => {
    const err = assertInvalid(valueWriter(DATERANGE), '[2024-01-01,2024-02-30)', 20, /bad upper bound/);
    assert.ok(err.cause instanceof DecodeError);
    assert.match(err.cause.message, /invalid date value "2024-02-30"/);
    assertInvalid(valueWriter(TSRANGE), '["2024-01-01 25:00:00",)', 13, /bad lower bound/);
  });
});

describe('multiranges', () => {
  test('a JSON array of ranges', () => {
    // '{[1,3),[5,7)}'::int4multirange
    assert.deepEqual(write(INT4MULTIRANGE, '{[1,3),[5,7)}'), [
      range(1, 3, true, false),
      range(5, 7, true, false),
    ]);
    // '{}'::int4multirange
    assert.equal(valueWriter(INT4MULTIRANGE)('{}'), '[]');
    // '{[2024-01-01,2024-01-05),[2024-02-01,)}'::datemultirange
    assert.deepEqual(write(DATEMULTIRANGE, '{[2024-01-01,2024-01-05),[2024-02-01,)}'), [
      range('2024-01-01', '2024-01-05', true, false),
      range('2024-02-01', null, true, false),
    ]);
    // '{(,1.5],[3,4)}'::nummultirange
    assert.equal(
      valueWriter(NUMMULTIRANGE)('{(,1.5],[3,4)}'),
      '[{"lower":null,"upper":1.5,"lowerInclusive":false,"upperInclusive":true},' +
        '{"lower":3,"upper":4,"lowerInclusive":true,"upperInclusive":false}]',
    );
    // '{[2024-01-01 00:00,2024-01-02 00:00)}'::tsmultirange
    assert.deepEqual(write(TSMULTIRANGE, '{["2024-01-01 00:00:00","2024-01-02 00:00:00")}'), [
      range('2024-01-01T00:00:00.000000', '2024-01-02T00:00:00.000000', true, false),
    ]);
    // '{[a,b), ("c d",e]}'::textmultirange
    assert.deepEqual(write(TEXTMULTIRANGE, '{[a,b),("c d",e]}'), [
      range('a', 'b', true, false),
      range('c d', 'e', false, true),
    ]);
  });

  test('malformed multiranges are refused', () => {
    const multi = valueWriter(INT4MULTIRANGE);
    assertInvalid(multi, '[1,3)', 0, /invalid multirange value "\[1,3\)": expected '\{'/);
    assertInvalid(multi, '{[1,3)', 6, /expected ',' or '\}'/);
    assertInvalid(multi, '{[1,3);[5,7)}', 6, /expected ',' or '\}'/);
    assertInvalid(multi, '{[1,3)}x', 7, /unexpected text after the multirange/);
    assertInvalid(multi, '{,}', 1, /expected '\[' or '\('/);
    assertInvalid(multi, '{[1,x)}', 4, /bad upper bound/);
  });

  test('a multirange whose range type is unknown is text', () => {
    const partial: TypeLookup = new Map<number, TypeInfo>([[20000, { kind: 'multirange', range: 20001 }]]);
    assert.equal(valueWriter(20000, partial)('{[1,3)}'), '"{[1,3)}"');
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../src/errors.js';
import { valueWriter } from '../../src/event/values.js';
import { assertInvalid } from './invalid-value.js';

// Array type OIDs (pg_type, PostgreSQL 15).
const INT4_ARRAY = 1007;
const TEXT_ARRAY = 1009;
const BOOL_ARRAY = 1000;
const BOX_ARRAY = 1020;
const DATE_ARRAY = 1182;
const JSONB_ARRAY = 3807;
const NUMERIC_ARRAY = 1231;
const FLOAT8_ARRAY = 1022;
const TIMESTAMPTZ_ARRAY = 1185;
const BYTEA_ARRAY = 1001;
const INT4RANGE_ARRAY = 3905;
const INET_ARRAY = 1041;

const write = (oid: number, text: string) => valueWriter(oid)(text);

// Every input below is PostgreSQL 15 output of `SELECT <array>::text` (UTC, ISO dates).
describe('arrays', () => {
  test('one, two and three dimensions', () => {
    // ARRAY[1,2,3]
    assert.equal(write(INT4_ARRAY, '{1,2,3}'), '[1,2,3]');
    // ARRAY[[1,2],[3,4]]
    assert.equal(write(INT4_ARRAY, '{{1,2},{3,4}}'), '[[1,2],[3,4]]');
    // ARRAY[[[1,2],[3,4]],[[5,6],[7,8]]]
    assert.equal(write(INT4_ARRAY, '{{{1,2},{3,4}},{{5,6},{7,8}}}'), '[[[1,2],[3,4]],[[5,6],[7,8]]]');
    // '{}'::int[]
    assert.equal(write(INT4_ARRAY, '{}'), '[]');
  });

  test('NULLs, quotes, backslashes, unicode, white space and delimiters inside text elements', () => {
    // ARRAY['a b', NULL, 'NULL', 'null', '', 'say "hi"', 'back\slash', 'héllo ✓', 'x,y', '{}', ' lead', E'tab\tx']
    const text =
      '{"a b",NULL,"NULL","null","","say \\"hi\\"","back\\\\slash","héllo ✓","x,y","{}"," lead","tab\tx"}';
    assert.deepEqual(JSON.parse(write(TEXT_ARRAY, text)), [
      'a b',
      null,
      'NULL',
      'null',
      '',
      'say "hi"',
      'back\\slash',
      'héllo ✓',
      'x,y',
      '{}',
      ' lead',
      'tab\tx',
    ]);
    // ARRAY[ARRAY['a"b','c\d'],ARRAY[NULL,'']]
    assert.deepEqual(JSON.parse(write(TEXT_ARRAY, '{{"a\\"b","c\\\\d"},{NULL,""}}')), [
      ['a"b', 'c\\d'],
      [null, ''],
    ]);
  });

  test('NULL is recognised in any case, only unquoted', () => {
    assert.equal(write(TEXT_ARRAY, '{null,Null,"NULL"}'), '[null,null,"NULL"]');
  });

  test('white space around elements is ignored, as array_in does', () => {
    assert.equal(write(INT4_ARRAY, '{ 1 , 2 }'), '[1,2]');
    assert.equal(write(TEXT_ARRAY, '{ a b ,c}'), '["a b","c"]');
  });

  test('dimension decorations are checked and dropped', () => {
    // '[0:2]={1,2,3}'::int[]
    assert.equal(write(INT4_ARRAY, '[0:2]={1,2,3}'), '[1,2,3]');
    // '[-3:-2]={7,8}'::int[]
    assert.equal(write(INT4_ARRAY, '[-3:-2]={7,8}'), '[7,8]');
    // '[1:2][0:0]={{1},{2}}'::int[]
    assert.equal(write(INT4_ARRAY, '[1:2][0:0]={{1},{2}}'), '[[1],[2]]');
    assert.equal(write(INT4_ARRAY, '[1:2][1:1]={{1},{2}}'), '[[1],[2]]');
    assertInvalid(valueWriter(INT4_ARRAY), '[0:3]={1,2,3}', 0, /dimensions do not match/);
    assertInvalid(valueWriter(INT4_ARRAY), '[0:2]={{1},{2},{3}}', 0, /dimensions do not match/);
    assertInvalid(valueWriter(INT4_ARRAY), '[0:2]{1,2,3}', 5, /expected '='/);
    assertInvalid(valueWriter(INT4_ARRAY), '[a:2]={1}', 1, /expected a bound/);
  });

  test('box arrays use the ; delimiter', () => {
    // ARRAY['(1,1),(0,0)'::box, '(3,3),(2,2)'::box]
    assert.equal(write(BOX_ARRAY, '{(1,1),(0,0);(3,3),(2,2)}'), '["(1,1),(0,0)","(3,3),(2,2)"]');
  });

  test('each element goes through the element type writer', () => {
    // ARRAY['2024-01-01'::date, NULL, '0044-03-15 BC', 'infinity']
    assert.equal(
      write(DATE_ARRAY, '{2024-01-01,NULL,"0044-03-15 BC",infinity}'),
      '["2024-01-01",null,"-0043-03-15","infinity"]',
    );
    // ARRAY['{"a": 1, "b": "x y"}'::jsonb, '[1, 2]'::jsonb, 'null'::jsonb, NULL]
    const jsonb = write(JSONB_ARRAY, '{"{\\"a\\": 1, \\"b\\": \\"x y\\"}","[1, 2]","null",NULL}');
    assert.equal(jsonb, '[{"a": 1, "b": "x y"},[1, 2],null,null]');
    // ARRAY[12345678901234567890.123456789::numeric, 'NaN', NULL]
    assert.equal(
      write(NUMERIC_ARRAY, '{12345678901234567890.123456789,NaN,NULL}'),
      '[12345678901234567890.123456789,"NaN",null]',
    );
    // ARRAY[true, false, NULL]
    assert.equal(write(BOOL_ARRAY, '{t,f,NULL}'), '[true,false,null]');
    // ARRAY[1.5::float8,'Infinity']
    assert.equal(write(FLOAT8_ARRAY, '{1.5,Infinity}'), '[1.5,"Infinity"]');
    // ARRAY['2024-01-01 10:00:00.5+00'::timestamptz]
    assert.equal(write(TIMESTAMPTZ_ARRAY, '{"2024-01-01 10:00:00.5+00"}'), '["2024-01-01T10:00:00.500000Z"]');
    // ARRAY['\x00ff'::bytea, '\x']
    assert.equal(write(BYTEA_ARRAY, '{"\\\\x00ff","\\\\x"}'), '["AP8=",""]');
    // ARRAY['1.2.3.4/32'::inet]
    assert.equal(write(INET_ARRAY, '{1.2.3.4}'), '["1.2.3.4"]');
    // ARRAY['[1,3)'::int4range, 'empty', '(,5]']
    assert.deepEqual(JSON.parse(write(INT4RANGE_ARRAY, '{"[1,3)",empty,"(,6)"}')), [
      { lower: 1, upper: 3, lowerInclusive: true, upperInclusive: false },
      { empty: true },
      { lower: null, upper: 6, lowerInclusive: false, upperInclusive: false },
    ]);
  });

  test('malformed arrays are refused at the offset where they go wrong', () => {
    const ints = valueWriter(INT4_ARRAY);
    const texts = valueWriter(TEXT_ARRAY);
    assertInvalid(ints, '{1,2', 4, /invalid array value "\{1,2": unterminated array/);
    assertInvalid(texts, '{"a}', 1, /unterminated quoted element/);
    assertInvalid(ints, '{1}x', 3, /unexpected text after the array/);
    assertInvalid(ints, '{{1},2}', 5, /element where a sub-array was expected/);
    assertInvalid(ints, '{1,{2}}', 3, /sub-array where an element was expected/);
    assertInvalid(ints, '{{1,2},{3}}', 9, /different lengths/);
    assertInvalid(ints, '{1,,2}', 3, /empty element/);
    assertInvalid(ints, '{1,}', 3, /empty element/);
    assertInvalid(ints, '{{}}', 2, /empty sub-array/);
    assertInvalid(ints, '1,2', 0, /expected '\{'/);
    assertInvalid(ints, '', 0, /expected '\{'/);
    assertInvalid(texts, '{"a"b}', 4, /expected a delimiter or '\}'/);
    assertInvalid(texts, '{a"b"}', 2, /unexpected character/);
    assertInvalid(ints, '{{{{{{{1}}}}}}}', 6, /more than 6 dimensions/);
  });

  test('a bad element is reported at its place, with the element type error as cause', () => {
    const err = assertInvalid(
      valueWriter(DATE_ARRAY),
      '{2024-01-01,2024-13-01}',
      17, // 12 (element start) + 5 (month)
      /invalid array value .*bad element "2024-13-01"/,
    );
    assert.ok(err.cause instanceof DecodeError);
    assert.match(err.cause.message, /invalid date value "2024-13-01": bad month/);
    // Quoted without escapes: still at the exact character.
    assertInvalid(valueWriter(DATE_ARRAY), '{"2024-01-01 BCE"}', 12, /bad element/);
    // Quoted with escapes: at the element.
    assertInvalid(valueWriter(BOOL_ARRAY), '{"\\x"}', 1, /bad element "x"/);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DecodeError } from '../../src/errors.js';
import { TypeOid, valueWriter } from '../../src/event/values.js';
import type { TypeInfo, TypeLookup } from '../../src/source/type-info.js';
import { assertInvalid } from './invalid-value.js';

// The types of the fixtures, as created on PostgreSQL 15:
//   CREATE TYPE mood AS ENUM ('sad','ok','happy');
//   CREATE TYPE addr AS (street text, n int, tags text[]);
//   CREATE TYPE person AS (name text, born date, home addr, score numeric, m mood);
const MOOD = 16385;
const ADDR = 16393;
const ADDR_ARRAY = 16392;
const PERSON = 16396;
const ROW4 = 17000; // (a int, b text, c text, d text)
const ROW7 = 17001; // seven text fields
const MIXED = 17002; // (s text, t timestamptz, r int4range, j jsonb, b bytea)
const NESTED = 17003; // (q text, addrs addr[])
const EMPTY = 17004; // a composite without fields

const text = (name: string) => ({ name, type: 25 });
const types: TypeLookup = new Map<number, TypeInfo>([
  [MOOD, { kind: 'enum' }],
  [
    ADDR,
    {
      kind: 'composite',
      fields: [
        { name: 'street', type: 25 },
        { name: 'n', type: TypeOid.int4 },
        { name: 'tags', type: 1009 },
      ],
    },
  ],
  [ADDR_ARRAY, { kind: 'array', element: ADDR, delimiter: ',' }],
  [
    PERSON,
    {
      kind: 'composite',
      fields: [
        { name: 'name', type: 25 },
        { name: 'born', type: TypeOid.date },
        { name: 'home', type: ADDR },
        { name: 'score', type: TypeOid.numeric },
        { name: 'm', type: MOOD },
      ],
    },
  ],
  [ROW4, { kind: 'composite', fields: [{ name: 'a', type: TypeOid.int4 }, text('b'), text('c'), text('d')] }],
  [ROW7, { kind: 'composite', fields: ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map(text) }],
  [
    MIXED,
    {
      kind: 'composite',
      fields: [
        text('s'),
        { name: 't', type: TypeOid.timestamptz },
        { name: 'r', type: 3904 },
        { name: 'j', type: TypeOid.jsonb },
        { name: 'b', type: TypeOid.bytea },
      ],
    },
  ],
  [NESTED, { kind: 'composite', fields: [text('q'), { name: 'addrs', type: ADDR_ARRAY }] }],
  [EMPTY, { kind: 'composite', fields: [] }],
]);

const write = (oid: number, value: string) => JSON.parse(valueWriter(oid, types)(value)) as unknown;

// Every input below is PostgreSQL 15 output of `SELECT <row>::text` (UTC, ISO dates).
describe('composite values', () => {
  test('fields by name; empty is NULL; "" is the empty string; quotes doubled', () => {
    // ROW(1,'a b',NULL,'x"y')
    assert.deepEqual(write(ROW4, '(1,"a b",,"x""y")'), { a: 1, b: 'a b', c: null, d: 'x"y' });
    // ROW('', 'back\slash', 'paren(', 'comma,', 'NULL', E'tab\tx', 'quote"and\back')
    assert.deepEqual(
      write(ROW7, '("","back\\\\slash","paren(","comma,",NULL,"tab\tx","quote""and\\\\back")'),
      {
        a: '',
        b: 'back\\slash',
        c: 'paren(',
        d: 'comma,',
        e: 'NULL',
        f: 'tab\tx',
        g: 'quote"and\\back',
      },
    );
  });

  test('nested composites, arrays, enums and dates inside a record', () => {
    // ROW('Ann', '2024-02-29'::date, ROW('Main "St"', 5, ARRAY['a b','c'])::addr, 1.50, 'happy'::mood)::person
    const ann = valueWriter(
      PERSON,
      types,
    )('(Ann,2024-02-29,"(""Main """"St"""""",5,""{""""a b"""",c}"")",1.50,happy)');
    assert.equal(
      ann,
      '{"name":"Ann","born":"2024-02-29","home":{"street":"Main \\"St\\"","n":5,"tags":["a b","c"]},"score":1.50,"m":"happy"}',
    );
    // ROW('Bob', NULL, NULL, NULL, NULL)::person
    assert.deepEqual(write(PERSON, '(Bob,,,,)'), {
      name: 'Bob',
      born: null,
      home: null,
      score: null,
      m: null,
    });
    // ROW('q"\', ARRAY[ROW('r', 2, NULL)::addr])
    assert.deepEqual(write(NESTED, '("q""\\\\","{""(r,2,)""}")'), {
      q: 'q"\\',
      addrs: [{ street: 'r', n: 2, tags: null }],
    });
  });

  test('arrays of composites', () => {
    // ARRAY[ROW('x', 1, NULL)::addr, ROW('y z', NULL, '{}')::addr]
    assert.deepEqual(write(ADDR_ARRAY, '{"(x,1,)","(\\"y z\\",,{})"}'), [
      { street: 'x', n: 1, tags: null },
      { street: 'y z', n: null, tags: [] },
    ]);
    // ARRAY[ROW('a"b\c', 1, ARRAY['x y'])::addr]
    assert.deepEqual(write(ADDR_ARRAY, '{"(\\"a\\"\\"b\\\\\\\\c\\",1,\\"{\\"\\"x y\\"\\"}\\")"}'), [
      { street: 'a"b\\c', n: 1, tags: ['x y'] },
    ]);
  });

  test('fields of other mapped types', () => {
    // ROW('x', '2024-01-01 10:00:00.5+00'::timestamptz, '[1,5)'::int4range, '{"k": "v \"q\""}'::jsonb, '\x00ff'::bytea)
    assert.deepEqual(
      write(MIXED, '(x,"2024-01-01 10:00:00.5+00","[1,5)","{""k"": ""v \\\\""q\\\\""""}","\\\\x00ff")'),
      {
        s: 'x',
        t: '2024-01-01T10:00:00.500000Z',
        r: { lower: 1, upper: 5, lowerInclusive: true, upperInclusive: false },
        j: { k: 'v "q"' },
        b: 'AP8=',
      },
    );
  });

  test('record_in forms PostgreSQL does not print: \\" inside quotes, partly quoted fields', () => {
    assert.deepEqual(write(ROW4, '(1,"a\\"b",x" "y,\\,)'), { a: 1, b: 'a"b', c: 'x y', d: ',' });
    assert.deepEqual(write(EMPTY, '()'), {});
  });

  test('a field count that does not match the type is refused', () => {
    const row4 = valueWriter(ROW4, types);
    assertInvalid(row4, '(1,a,b)', 6, /invalid composite value "\(1,a,b\)": 3 fields where the type has 4/);
    assertInvalid(row4, '(1,a,b,c,d)', 8, /more fields than the type's 4/);
    assertInvalid(valueWriter(EMPTY, types), '(1)', 1, /no fields/);
  });

  test('malformed records are refused', () => {
    const row4 = valueWriter(ROW4, types);
    assertInvalid(row4, '1,a,b,c', 0, /expected '\('/);
    assertInvalid(row4, '(1,a,b,c', 8, /expected '\)'/);
    assertInvalid(row4, '(1,a,b,c)x', 9, /unexpected text after the record/);
    assertInvalid(row4, '(1,"a,b,c)', 3, /unterminated quoted field/);
    assertInvalid(row4, '(1,a,b,c\\', 8, /backslash at the end/);
  });

  test('a bad field is reported at its place, with the field type error as cause', () => {
    const err = assertInvalid(
      valueWriter(PERSON, types),
      '(Bob,2024-02-30,,,)',
      13, // 5 (field start) + 8 (day)
      /invalid composite value .*bad field "born"/,
    );
    assert.ok(err.cause instanceof DecodeError);
    assert.match(err.cause.message, /invalid date value "2024-02-30": bad day/);
    assertInvalid(valueWriter(ROW4, types), '("1x",a,b,c)', 3, /bad field "a"/); // quoted: inside the quotes
    assertInvalid(valueWriter(ROW4, types), '("1""",a,b,c)', 1, /bad field "a"/); // unquoted: at the field
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { missingTypes, TypeOid, valueToJson, valueWriter } from '../../src/event/values.js';
import type { TypeInfo, TypeLookup } from '../../src/source/type-info.js';
import { assertInvalid } from './invalid-value.js';

const json = (oid: number, text: string | null) => valueToJson(text, valueWriter(oid));

/** A catalog as the pipeline would fill it, for user-defined types. */
function lookup(entries: [number, TypeInfo][]): TypeLookup {
  return new Map(entries);
}

describe('column values to JSON', () => {
  test('booleans and integers are JSON literals', () => {
    assert.equal(json(TypeOid.bool, 't'), 'true');
    assert.equal(json(TypeOid.bool, 'f'), 'false');
    assert.equal(json(TypeOid.int2, '-32768'), '-32768');
    assert.equal(json(TypeOid.int4, '2147483647'), '2147483647');
    assert.equal(json(TypeOid.int4, '0'), '0');
    assert.equal(json(TypeOid.oid, '4294967295'), '4294967295');
  });

  test('int8 and numeric keep every digit', () => {
    const big = '9223372036854775807';
    assert.equal(json(TypeOid.int8, big), big);
    assert.equal(json(TypeOid.int8, '-9223372036854775808'), '-9223372036854775808');
    const num = '12345678901234567890123456789012345678.0000000001';
    assert.equal(json(TypeOid.numeric, num), num);
    assert.equal(
      json(TypeOid.numeric, '0.000000000000000000000000000001'),
      '0.000000000000000000000000000001',
    );
    assert.equal(json(TypeOid.numeric, '1000000000000000000000000000000'), '1000000000000000000000000000000');
    assert.equal(json(TypeOid.numeric, '-1.50'), '-1.50'); // trailing zero (the scale) kept
  });

  test('floats keep PostgreSQL shortest-exact digits; NaN and infinities become strings', () => {
    // PostgreSQL 15 output with extra_float_digits=1.
    assert.equal(json(TypeOid.float8, '1e+30'), '1e+30');
    assert.equal(json(TypeOid.float8, '-1.5e-07'), '-1.5e-07');
    assert.equal(json(TypeOid.float8, '1.2345678901234568e+17'), '1.2345678901234568e+17');
    assert.equal(json(TypeOid.float4, '0.1'), '0.1');
    assert.equal(json(TypeOid.float8, '-0'), '-0');
    assert.equal(json(TypeOid.numeric, 'NaN'), '"NaN"');
    assert.equal(json(TypeOid.numeric, 'Infinity'), '"Infinity"');
    assert.equal(json(TypeOid.float8, 'Infinity'), '"Infinity"');
    assert.equal(json(TypeOid.float4, '-Infinity'), '"-Infinity"');
  });

  test('malformed booleans and numbers are refused with the offset of the bad character', () => {
    assertInvalid(valueWriter(TypeOid.bool), 'true', 0, /invalid bool value "true"/);
    assertInvalid(valueWriter(TypeOid.int4), '12a', 2, /invalid int4 value "12a"/);
    assertInvalid(valueWriter(TypeOid.int8), '', 0, /invalid int8 value ""/);
    assertInvalid(valueWriter(TypeOid.int2), '1.5', 1, /invalid int2 value/);
    assertInvalid(valueWriter(TypeOid.int4), '007', 1, /invalid int4 value/);
    assertInvalid(valueWriter(TypeOid.oid), '-1', 0, /invalid oid value/);
    assertInvalid(valueWriter(TypeOid.int4), '-', 0, /invalid int4 value/);
    assertInvalid(valueWriter(TypeOid.int4), '-0x1', 2, /invalid int4 value/);
    assertInvalid(valueWriter(TypeOid.numeric), '1.', 1, /invalid numeric value "1\."/);
    assertInvalid(valueWriter(TypeOid.numeric), '.5', 0, /invalid numeric value/);
    assertInvalid(valueWriter(TypeOid.numeric), '1,5', 1, /invalid numeric value/);
    assertInvalid(valueWriter(TypeOid.float8), '1e', 1, /invalid float8 value/);
    assertInvalid(valueWriter(TypeOid.float8), '+1', 0, /invalid float8 value/);
    assertInvalid(valueWriter(TypeOid.float4), 'nan', 0, /invalid float4 value/);
    assertInvalid(valueWriter(TypeOid.numeric), '1 ', 1, /invalid numeric value/);
    assertInvalid(valueWriter(TypeOid.numeric), '1.5e+', 3, /invalid numeric value/);
    assertInvalid(valueWriter(TypeOid.numeric), '-', 0, /invalid numeric value/);
  });

  test('json and jsonb are embedded as JSON', () => {
    assert.deepEqual(JSON.parse(json(TypeOid.jsonb, '{"a": [1, 2, {"b": null}]}')), {
      a: [1, 2, { b: null }],
    });
    assert.deepEqual(JSON.parse(json(TypeOid.json, '[1, "x"]')), [1, 'x']);
    assert.equal(json(TypeOid.jsonb, '12345678901234567890.5'), '12345678901234567890.5');
  });

  test('bytea is base64, zero bytes and the empty value included', () => {
    assert.equal(
      json(TypeOid.bytea, '\\x00ff10'),
      JSON.stringify(Buffer.from([0, 255, 16]).toString('base64')),
    );
    assert.equal(json(TypeOid.bytea, '\\x0000'), '"AAA="');
    assert.equal(json(TypeOid.bytea, '\\x'), '""');
    assert.equal(json(TypeOid.bytea, '\\xDEADbeef'), '"3q2+7w=="');
  });

  test('malformed bytea is refused', () => {
    const bytea = valueWriter(TypeOid.bytea);
    assertInvalid(bytea, '\\x0', 3, /invalid bytea value .*odd number of hex digits/);
    assertInvalid(bytea, '\\x00f', 5, /odd number of hex digits/);
    assertInvalid(bytea, '\\x00zz', 4, /not a hex digit/);
    assertInvalid(bytea, '\\x0z', 3, /not a hex digit/);
    assertInvalid(bytea, '00ff', 0, /expected '\\x'/); // escape format, not hex
  });

  test('text, scalar types without a mapping and unknown types are strings; NULL is null', () => {
    assert.equal(json(TypeOid.int4, null), 'null');
    assert.equal(json(25, 'he said "hi"\n'), '"he said \\"hi\\"\\n"');
    assert.equal(
      json(2950, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      '"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"',
    );
    assert.equal(json(790, '$1,000.00'), '"$1,000.00"');
    assert.equal(json(600, '(1,2)'), '"(1,2)"');
    assert.equal(json(22, '1 2 3'), '"1 2 3"'); // int2vector is not an array
    assert.equal(json(99999, '(1,2)'), '"(1,2)"');
    assert.equal(valueToJson(new Uint8Array([1, 2, 3]), valueWriter(TypeOid.int4)), '"AQID"');
  });
});

describe('user-defined types through a TypeLookup', () => {
  const MOOD = 16385;
  const POSINT = 16398;
  const SMALLPOS = 16401;
  const MOOD_ARRAY = 16384;
  const SMALLPOS_ARRAY = 16402;
  const types = lookup([
    [MOOD, { kind: 'enum' }],
    [POSINT, { kind: 'domain', base: TypeOid.int4 }],
    [SMALLPOS, { kind: 'domain', base: POSINT }],
    [MOOD_ARRAY, { kind: 'array', element: MOOD, delimiter: ',' }],
    [SMALLPOS_ARRAY, { kind: 'array', element: SMALLPOS, delimiter: ',' }],
  ]);

  test('an enum is its label; a domain, even over a domain, is its base type', () => {
    assert.equal(valueWriter(MOOD, types)('happy'), '"happy"');
    assert.equal(valueWriter(POSINT, types)('42'), '42');
    assert.equal(valueWriter(SMALLPOS, types)('7'), '7');
    assertInvalid(valueWriter(SMALLPOS, types), 'x', 0, /invalid int4 value "x"/);
  });

  test('arrays of enums and of domains map each element', () => {
    // PostgreSQL 15: SELECT ARRAY['happy'::mood, 'sad']::text, ARRAY[5::posint]::text
    assert.equal(valueWriter(MOOD_ARRAY, types)('{happy,sad}'), '["happy","sad"]');
    assert.equal(valueWriter(SMALLPOS_ARRAY, types)('{5,NULL}'), '[5,null]');
  });

  test('a base type from the lookup, or a type it lacks, is text', () => {
    const citext = lookup([[16500, { kind: 'base' }]]);
    assert.equal(valueWriter(16500, citext)('Ann'), '"Ann"');
    assert.equal(valueWriter(MOOD)('happy'), '"happy"'); // no lookup
  });

  test('a lookup that loops does not recurse forever', () => {
    const broken = lookup([
      [20001, { kind: 'domain', base: 20002 }],
      [20002, { kind: 'domain', base: 20001 }],
    ]);
    assert.equal(valueWriter(20001, broken)('x'), '"x"');
  });

  test('the single-argument call gives the same writer for the same built-in type', () => {
    assert.equal(valueWriter(1007), valueWriter(1007));
  });
});

describe('missingTypes', () => {
  const PERSON = 16396;
  const ADDR = 16393;
  const MOOD = 16385;
  const ADDR_ARRAY = 16392;
  const TAG = 16450;
  const TAG_RANGE = 16460;
  const TAG_MULTIRANGE = 16461;

  test('built-in types, scalar or container, need nothing', () => {
    for (const oid of [TypeOid.int4, 25, 2950, 1009, 1182, 1020, 3904, 4535, 6155, 22]) {
      assert.deepEqual(missingTypes(oid), [], `oid ${oid}`);
    }
  });

  test('an unknown type is missing', () => {
    assert.deepEqual(missingTypes(PERSON), [PERSON]);
  });

  test('the unknown types below a known one are found recursively, each once', () => {
    // person(name text, born date, home addr, score numeric, m mood, past addr[], also addr)
    const types = lookup([
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
            { name: 'past', type: ADDR_ARRAY },
            { name: 'also', type: ADDR },
          ],
        },
      ],
      [ADDR_ARRAY, { kind: 'array', element: ADDR, delimiter: ',' }],
    ]);
    assert.deepEqual(missingTypes(PERSON, types), [ADDR, MOOD]);
    const more = lookup([
      ...(types as Map<number, TypeInfo>),
      [ADDR, { kind: 'composite', fields: [{ name: 'tags', type: TAG_MULTIRANGE }] }],
      [MOOD, { kind: 'enum' }],
    ]);
    assert.deepEqual(missingTypes(PERSON, more), [TAG_MULTIRANGE]);
    const evenMore = lookup([
      ...(more as Map<number, TypeInfo>),
      [TAG_MULTIRANGE, { kind: 'multirange', range: TAG_RANGE }],
      [TAG_RANGE, { kind: 'range', subtype: TAG }],
    ]);
    assert.deepEqual(missingTypes(PERSON, evenMore), [TAG]);
    const complete = lookup([...(evenMore as Map<number, TypeInfo>), [TAG, { kind: 'base' }]]);
    assert.deepEqual(missingTypes(PERSON, complete), []);
  });

  test('the element of a built-in array and the base of a domain are followed', () => {
    const types = lookup([[16600, { kind: 'domain', base: 16601 }]]);
    assert.deepEqual(missingTypes(16600, types), [16601]);
    const arrays = lookup([[16700, { kind: 'array', element: 16701, delimiter: ',' }]]);
    assert.deepEqual(missingTypes(16700, arrays), [16701]);
  });
});

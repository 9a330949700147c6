import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TypeOid, valueToJson, valueWriter } from '../../src/event/values.js';

const json = (oid: number, text: string | null) => valueToJson(text, valueWriter(oid));

describe('column values to JSON', () => {
  test('booleans and integers are JSON literals', () => {
    assert.equal(json(TypeOid.bool, 't'), 'true');
    assert.equal(json(TypeOid.bool, 'f'), 'false');
    assert.equal(json(TypeOid.int2, '-32768'), '-32768');
    assert.equal(json(TypeOid.int4, '2147483647'), '2147483647');
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
  });

  test('NaN and infinities become strings', () => {
    assert.equal(json(TypeOid.numeric, 'NaN'), '"NaN"');
    assert.equal(json(TypeOid.float8, 'Infinity'), '"Infinity"');
    assert.equal(json(TypeOid.float4, '-Infinity'), '"-Infinity"');
    assert.equal(json(TypeOid.float8, '1e+30'), '1e+30');
    assert.equal(json(TypeOid.float8, '-1.5e-07'), '-1.5e-07');
  });

  test('json and jsonb are embedded as JSON', () => {
    assert.deepEqual(JSON.parse(json(TypeOid.jsonb, '{"a": [1, 2, {"b": null}]}')), {
      a: [1, 2, { b: null }],
    });
    assert.deepEqual(JSON.parse(json(TypeOid.json, '[1, "x"]')), [1, 'x']);
  });

  test('text and unknown types are strings; NULL is null; bytea is base64', () => {
    assert.equal(json(TypeOid.int4, null), 'null');
    assert.equal(json(25, 'he said "hi"\n'), '"he said \\"hi\\"\\n"');
    assert.equal(json(99999, '(1,2)'), '"(1,2)"');
    assert.equal(
      json(TypeOid.bytea, '\\x00ff10'),
      JSON.stringify(Buffer.from([0, 255, 16]).toString('base64')),
    );
    assert.equal(valueToJson(new Uint8Array([1, 2, 3]), valueWriter(TypeOid.int4)), '"AQID"');
  });
});

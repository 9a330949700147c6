import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventId, transactionIdPrefix, writeEventId } from '../../src/event/event-id.js';
import { JsonBytes } from '../../src/event/json-bytes.js';
import { byteWriter, TypeOid, valueWriter } from '../../src/event/values.js';

/**
 * A byte writer must give exactly the JSON of its column's string writer, or decline without
 * writing anything (the string writer then runs, and reports invalid text).
 */
function check(oid: number, texts: readonly string[]): { taken: string[]; declined: string[] } {
  const write = valueWriter(oid);
  const bytes = byteWriter(write);
  assert.ok(bytes, `type ${oid} has a byte writer`);
  const taken: string[] = [];
  const declined: string[] = [];
  for (const text of texts) {
    // The text sits between other bytes, as in a message: a writer must read only its own range.
    const src = Buffer.concat([
      Buffer.from('9999-'),
      Buffer.from(text, 'utf8'),
      Buffer.from('12:00:00.5+00'),
    ]);
    const out = new JsonBytes(8);
    out.byte(0x5b); // something already written before the value
    const ok = bytes(src, 5, src.length - 13, out);
    if (!ok) {
      assert.equal(out.pos, 1, `declined ${JSON.stringify(text)} without writing`);
      declined.push(text);
      continue;
    }
    taken.push(text);
    const expected = write(text);
    assert.equal(out.view().subarray(1).toString('utf8'), expected, `type ${oid}: ${JSON.stringify(text)}`);
  }
  return { taken, declined };
}

describe('byte writers give the JSON of the string writers', () => {
  test('text: every ASCII character, multi-byte text and JSON escapes', () => {
    const texts = [
      '',
      'plain',
      'Zoë 東京 🐘',
      'a\u2028b\u2029c',
      '\uFFFD',
      '"quoted" \\ back\\slash',
      '{"k": [1, 2]}',
    ];
    for (let c = 0; c < 0x80; c++) texts.push(`x${String.fromCharCode(c)}y`);
    // text, varchar, name, uuid: written as strings.
    for (const oid of [25, 1043, 19, 2950]) {
      const { declined } = check(oid, texts);
      assert.deepEqual(declined, [], 'text is always taken');
    }
    // Escapes grow the buffer as they come: a long run of them, from a small buffer.
    check(25, ['\u0001"\\\n'.repeat(5000) + 'é', 'x'.repeat(70_000)]);
  });

  test('integers, numerics and floats: plain decimals taken, everything else left to the string writer', () => {
    const valid = ['0', '-0', '7', '-42', '9223372036854775807', '-9223372036854775808'];
    const fractions = ['0.5', '-12345.6789', '100.000'];
    const other = [
      '',
      '-',
      '01',
      '+1',
      '1.',
      '.5',
      '1e5',
      '1.5e-3',
      'NaN',
      'Infinity',
      '-Infinity',
      '1 ',
      ' 1',
      '0x1',
    ];
    for (const oid of [TypeOid.int2, TypeOid.int4, TypeOid.int8]) {
      const { taken } = check(oid, [...valid, ...fractions, ...other]);
      assert.deepEqual(taken, valid);
    }
    const oidTaken = check(TypeOid.oid, ['0', '4294967295', '-1', '01']).taken;
    assert.deepEqual(oidTaken, ['0', '4294967295']);
    for (const oid of [TypeOid.numeric, TypeOid.float4, TypeOid.float8]) {
      const { taken } = check(oid, [...valid, ...fractions, ...other]);
      assert.deepEqual(taken, [...valid, ...fractions]);
    }
  });

  test('bool, json and jsonb', () => {
    assert.deepEqual(check(TypeOid.bool, ['t', 'f', 'true', 'T', '']).taken, ['t', 'f']);
    for (const oid of [TypeOid.json, TypeOid.jsonb]) {
      assert.deepEqual(check(oid, ['{"a": [1, "é"]}', 'null', '"s"']).declined, []);
    }
  });

  test('timestamp and timestamptz: the usual form taken, with every field at and past its bounds', () => {
    const texts: string[] = [];
    for (const date of [
      '2024-02-29',
      '2023-02-29',
      '1900-02-29',
      '2000-02-29',
      '0001-01-01',
      '0000-01-01',
      '9999-12-31',
    ]) {
      for (const time of ['00:00:00', '23:59:59', '24:00:00', '10:60:00', '10:00:60', '1:00:00']) {
        for (const fraction of ['', '.5', '.000001', '.123456', '.1234567', '.'])
          texts.push(`${date} ${time}${fraction}`);
      }
    }
    texts.push(
      '2024-01-01',
      '2024-01-01 10:00',
      '0044-03-15 10:00:00 BC',
      '12345-01-01 00:00:00',
      'infinity',
    );
    const plain = check(TypeOid.timestamp, texts);
    const zoned = check(
      TypeOid.timestamptz,
      texts.flatMap((t) => [`${t}+00`, `${t}+01`, `${t}-00`, t]),
    );
    // What is taken is exactly what the string writer accepts in the usual form.
    const usual = /^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?$/;
    const accepted = (t: string) => {
      try {
        valueWriter(TypeOid.timestamp)(t);
        return usual.test(t);
      } catch {
        return false;
      }
    };
    assert.deepEqual(plain.taken, texts.filter(accepted));
    assert.deepEqual(
      zoned.taken,
      texts.filter(accepted).map((t) => `${t}+00`),
    );
    assert.equal(plain.taken.length, 4 * 2 * 4, '4 real dates, 2 real times, 4 good fractions');
    // A value is read within its own bytes, whatever follows it in the message.
    const src = Buffer.from('2024-01-01 10:00:00.5+00');
    for (const [oid, end] of [
      [TypeOid.timestamp, 10],
      [TypeOid.timestamp, 19],
      [TypeOid.timestamptz, 19],
      [TypeOid.timestamptz, 21],
    ] as const) {
      const out = new JsonBytes();
      const taken = byteWriter(valueWriter(oid))!(src, 0, end, out);
      const expected = oid === TypeOid.timestamp && end === 19 ? '"2024-01-01T10:00:00.000000"' : '';
      assert.equal(out.view().toString(), expected, `${oid} over ${end} bytes`);
      assert.equal(taken, expected !== '');
    }
  });
});

describe('event ids and numbers as bytes', () => {
  test('writeEventId writes the text of eventId', () => {
    const tx = transactionIdPrefix(0x2abcdef, 0x16b3748n);
    const buf = Buffer.alloc(40);
    for (const position of [0, 1, 15, 16, 255, 0x12345678, 0xfffffffd, 0xffffffff]) {
      const end = writeEventId(tx, position, buf, 2);
      assert.equal(buf.subarray(2, end).toString('latin1'), eventId(tx, position));
    }
  });

  test('JsonBytes grows as needed and writes numbers in decimal', () => {
    const out = new JsonBytes(4);
    for (const n of [0, 9, 10, 99, 100, 4294967295, 2 ** 53 - 1]) {
      out.uint(n);
      out.byte(0x2c);
    }
    const long = Buffer.alloc(2_000_000, 0x61);
    out.copy(long, 10, 1_999_990);
    out.copy(Buffer.from('xyz'), 1, 3);
    out.text('é');
    const text = out.view().toString('utf8');
    assert.equal(text, `0,9,10,99,100,4294967295,${2 ** 53 - 1},${'a'.repeat(1_999_980)}yzé`);
    out.reset();
    assert.ok(out.buf.length <= 4, 'a buffer grown past 1 MB for one event is let go');
    out.pos = out.buf.length + 1; // as after a write past the end, which typed arrays drop silently
    assert.throws(() => out.view(), /overran its buffer/);
  });
});

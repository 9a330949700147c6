/**
 * Unit tests for the bounds-checked byte cursor under the decoders.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError } from '../../src/errors.js';
import { ByteReader } from '../../src/source/pgoutput/reader.js';
import { hexBytes } from '../builders/pgoutput-writer.js';

describe('ByteReader', () => {
  test('reads big-endian integers with the right signedness', () => {
    const r = new ByteReader(
      hexBytes('ff', 'fffe', 'fffe', 'ffffffff', 'ffffffff', 'fffffffffffffffe', 'fffffffffffffffe'),
      'X',
    );
    assert.equal(r.u8(), 255);
    assert.equal(r.i16(), -2);
    assert.equal(r.u16(), 65_534);
    assert.equal(r.i32(), -1);
    assert.equal(r.u32(), 4_294_967_295);
    assert.equal(r.i64(), -2n);
    assert.equal(r.u64(), 0xffff_ffff_ffff_fffen);
    assert.equal(r.remaining, 0);
    assert.equal(r.offset, 29);
  });

  test('reads C strings as UTF-8, and skips text after checking it', () => {
    const r = new ByteReader(hexBytes('c3a9 00', '00', 'e69db1 78'), 'X');
    assert.equal(r.cstring(), 'é');
    assert.equal(r.cstring(), '');
    assert.deepEqual(r.textSpan(3), { start: 4, ascii: false });
    assert.equal(r.offset, 7);
    assert.deepEqual(r.textSpan(1), { start: 7, ascii: true });
  });

  test('text spans of ASCII and non-ASCII values mixed in one message, and in a view of a larger buffer', () => {
    const values = [
      'plain ascii, long enough to be a slice',
      '',
      'é',
      'x',
      '\u007f edge',
      '日本 and ascii',
      'after',
      '\uFFFD genuine',
    ];
    const parts = values.map((v) => Buffer.from(v, 'utf8'));
    const message = Buffer.concat([Buffer.from([0xff, 0x80]), ...parts, Buffer.from([0xfe])]);
    // The reader gets a view that starts and ends inside a larger buffer with non-ASCII bytes.
    for (const buf of [message.subarray(2, message.length - 1), Buffer.concat(parts)]) {
      const r = new ByteReader(buf, 'X');
      const read = parts.map((p) => {
        const { start, ascii } = r.textSpan(p.length);
        const text = buf.toString('utf8', start, start + p.length);
        assert.equal(ascii, Buffer.byteLength(text) === text.length, text);
        return text;
      });
      assert.deepEqual(read, values);
      assert.equal(r.remaining, 0);
    }
    // Invalid UTF-8 after ASCII values is refused, at the offset of the value.
    const bad = new ByteReader(Buffer.concat([Buffer.from('ok'), Buffer.from([0x61, 0x80])]), 'X');
    assert.deepEqual(bad.textSpan(2), { start: 0, ascii: true });
    assert.throws(
      () => bad.textSpan(2),
      (e: unknown) => e instanceof DecodeError && e.offset === 2 && /invalid UTF-8/.test(e.message),
    );
  });

  test('bytes() is a view and copyBytes() a copy', () => {
    const buf = hexBytes('0102 0304');
    const r = new ByteReader(buf, 'X');
    const view = r.bytes(2);
    const copy = r.copyBytes(2);
    buf.fill(0);
    assert.deepEqual([...view], [0, 0]);
    assert.deepEqual(copy, new Uint8Array([3, 4]));
  });

  test('starts at the given offset', () => {
    const r = new ByteReader(hexBytes('aa bb'), 'X', 1);
    assert.equal(r.remaining, 1);
    assert.equal(r.u8(), 0xbb);
  });

  test('a short read throws with the tag and the offset of the read, and does not move', () => {
    const r = new ByteReader(hexBytes('00 000000'), 'Q');
    r.u8();
    assert.throws(
      () => r.u32(),
      (err: unknown) => err instanceof DecodeError && err.tag === 'Q' && err.offset === 1,
    );
    assert.equal(r.offset, 1);
    assert.equal(r.remaining, 3);
  });

  test('an unterminated C string throws at its start', () => {
    const r = new ByteReader(hexBytes('00 6162'), 'Q', 1);
    assert.throws(
      () => r.cstring(),
      (err: unknown) => err instanceof DecodeError && err.offset === 1 && /NUL/.test(err.message),
    );
  });

  test('a negative length throws', () => {
    const r = new ByteReader(hexBytes('0000'), 'Q');
    assert.throws(() => r.bytes(-1), DecodeError);
    assert.throws(() => r.copyBytes(-1), DecodeError);
    assert.throws(() => r.textSpan(-1), DecodeError);
    assert.equal(r.offset, 0);
  });
});

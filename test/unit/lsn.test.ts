/**
 * Unit tests for LSN text parsing and formatting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError } from '../../src/errors.js';
import { formatLsn, maxLsn, parseLsn } from '../../src/source/lsn.js';

describe('parseLsn and formatLsn', () => {
  test('parse the form PostgreSQL prints', () => {
    assert.equal(parseLsn('0/16B3748'), 0x16b3748n);
    assert.equal(parseLsn('1/0'), 0x1_0000_0000n);
    assert.equal(parseLsn('ffffffff/ffffffff'), 0xffff_ffff_ffff_ffffn);
  });

  test('format as upper-case hex halves without padding', () => {
    assert.equal(formatLsn(0n), '0/0');
    assert.equal(formatLsn(0x16b3748n), '0/16B3748');
    assert.equal(formatLsn(0x1_0000_0000n), '1/0');
    assert.equal(formatLsn(0xffff_ffff_ffff_ffffn), 'FFFFFFFF/FFFFFFFF');
  });

  test('round trip, including values above 2^53', () => {
    for (const lsn of [0n, 1n, 0xffff_ffffn, 0x1_0000_0000n, 2n ** 53n + 1n, 0xffff_ffff_ffff_ffffn]) {
      assert.equal(parseLsn(formatLsn(lsn)), lsn);
    }
    for (const text of ['0/0', '0/16B3748', 'A/B', 'FFFFFFFF/FFFFFFFF']) {
      assert.equal(formatLsn(parseLsn(text)), text);
    }
  });

  test('accept lower case and leading zeros, and ignore surrounding whitespace', () => {
    assert.equal(parseLsn('0000000a/0000000b'), 0xa_0000_000bn);
    assert.equal(parseLsn(' 0/1\n'), 1n);
  });

  test('reject invalid text with a DecodeError tagged lsn', () => {
    for (const text of [
      '',
      '0',
      '0/',
      '/0',
      '0/1/2',
      '123456789/0',
      '0/123456789',
      '0/G',
      '-1/0',
      '0x1/0',
      '1 /0',
    ]) {
      assert.throws(
        () => parseLsn(text),
        (err: unknown) => err instanceof DecodeError && err.tag === 'lsn' && err.offset === 0,
        `expected ${JSON.stringify(text)} to be rejected`,
      );
    }
  });
});

describe('maxLsn', () => {
  test('returns the larger LSN in either order', () => {
    assert.equal(maxLsn(1n, 0xffff_ffff_ffff_ffffn), 0xffff_ffff_ffff_ffffn);
    assert.equal(maxLsn(0xffff_ffff_ffff_ffffn, 1n), 0xffff_ffff_ffff_ffffn);
    assert.equal(maxLsn(5n, 5n), 5n);
  });
});

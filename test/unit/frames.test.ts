/**
 * Unit tests for the START_REPLICATION frames: XLogData and keepalive parsing, the Standby
 * Status Update bytes and the PostgreSQL clock.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { DecodeError } from '../../src/errors.js';
import { encodeStandbyStatus, parseFrame, pgClock } from '../../src/source/frames.js';
import { encodeKeepalive, encodeXLogData } from '../builders/frame-writer.js';
import { hexBytes } from '../builders/pgoutput-writer.js';

/** Asserts that `fn` throws a DecodeError for the outer frame at `offset`. */
function assertFrameError(fn: () => unknown, offset: number, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof DecodeError, `expected a DecodeError, got ${String(err)}`);
    assert.equal(err.tag, 'frame');
    assert.equal(err.offset, offset);
    assert.match(err.message, message);
    return true;
  });
}

describe('parseFrame: XLogData', () => {
  test('reads the header and returns the payload', () => {
    const buf = hexBytes(
      '77', //                   Byte1('w')
      '00000001 6b374d48', //    Int64 WAL start 1/6B374D48
      'ffffffff 00000010', //    Int64 WAL end FFFFFFFF/10 (above 2^53)
      '0002b0de 36af8a40', //    Int64 send time 2024-01-01T10:00:00.123456Z
      '42 0102', //              Byte(n) payload
    );
    const frame = parseFrame(buf);
    assert.deepEqual(frame, {
      tag: 'xlogdata',
      walStart: 0x1_6b37_4d48n,
      walEnd: 0xffff_ffff_0000_0010n,
      sendTime: 757_418_400_123_456n,
      data: Buffer.from([0x42, 0x01, 0x02]),
    });
  });

  test('the payload is a view into the frame, not a copy', () => {
    const buf = encodeXLogData({ walStart: 1n, walEnd: 2n, sendTime: 3n, data: Uint8Array.of(9, 8, 7) });
    const frame = parseFrame(buf);
    assert.equal(frame.tag, 'xlogdata');
    assert.equal(frame.data.buffer, buf.buffer);
    assert.equal(frame.data.byteOffset, buf.byteOffset + 25);
    buf[25] = 0x55;
    assert.equal(frame.data[0], 0x55);
  });

  test('an XLogData frame with an empty payload has empty data', () => {
    const buf = encodeXLogData({ walStart: 5n, walEnd: 5n, sendTime: -1n, data: new Uint8Array(0) });
    const frame = parseFrame(buf);
    assert.equal(frame.tag, 'xlogdata');
    assert.equal(frame.sendTime, -1n);
    assert.equal(frame.data.length, 0);
  });

  test('every header shorter than 25 bytes throws', () => {
    const full = encodeXLogData({ walStart: 1n, walEnd: 2n, sendTime: 3n, data: new Uint8Array(0) });
    assert.equal(full.length, 25);
    for (let cut = 1; cut < full.length; cut++) {
      // The failing Int64 read starts at 1, 9 or 17.
      const expected = cut < 9 ? 1 : cut < 17 ? 9 : 17;
      assertFrameError(() => parseFrame(Buffer.from(full.subarray(0, cut))), expected, /truncated/);
    }
  });
});

describe('parseFrame: keepalive', () => {
  test('reads a keepalive that asks for a reply', () => {
    const buf = hexBytes(
      '6b', //                   Byte1('k')
      '00000000 016b37a8', //    Int64 WAL end 0/16B37A8
      '0002b0de 36af8a40', //    Int64 send time
      '01', //                   Byte1 reply requested
    );
    assert.deepEqual(parseFrame(buf), {
      tag: 'keepalive',
      walEnd: 0x16b37a8n,
      sendTime: 757_418_400_123_456n,
      replyRequested: true,
    });
  });

  test('reads a keepalive that does not ask for a reply', () => {
    const frame = parseFrame(encodeKeepalive({ walEnd: 7n, sendTime: 8n, replyRequested: false }));
    assert.deepEqual(frame, { tag: 'keepalive', walEnd: 7n, sendTime: 8n, replyRequested: false });
  });

  test('every proper prefix throws', () => {
    const full = encodeKeepalive({ walEnd: 7n, sendTime: 8n, replyRequested: true });
    assert.equal(full.length, 18);
    for (let cut = 1; cut < full.length; cut++) {
      const expected = cut < 9 ? 1 : cut < 17 ? 9 : 17;
      assertFrameError(() => parseFrame(Buffer.from(full.subarray(0, cut))), expected, /truncated/);
    }
  });

  test('a trailing byte throws', () => {
    const full = encodeKeepalive({ walEnd: 7n, sendTime: 8n, replyRequested: true });
    assertFrameError(() => parseFrame(Buffer.concat([full, Buffer.of(0)])), 18, /trailing/);
  });
});

describe('parseFrame: invalid frames', () => {
  test('an empty frame throws', () => {
    assertFrameError(() => parseFrame(Buffer.alloc(0)), 0, /empty/);
  });

  test('an unknown frame kind throws naming its byte', () => {
    // 'r' is a status update, which only the client sends.
    assertFrameError(() => parseFrame(hexBytes('72', '00'.repeat(33))), 0, /kind 0x72/);
    assertFrameError(() => parseFrame(hexBytes('00', '00'.repeat(24))), 0, /kind 0x00/);
  });
});

describe('encodeStandbyStatus', () => {
  test('writes the 34-byte layout exactly', () => {
    const buf = encodeStandbyStatus({
      write: 0x16b37a8n,
      flush: 0x16b3778n,
      apply: 0xffff_ffff_0000_0001n,
      clock: 757_418_400_123_456n,
      replyRequested: false,
    });
    assert.equal(buf.length, 34);
    assert.equal(
      buf.toString('hex'),
      [
        '72', //                   Byte1('r')
        '00000000016b37a8', //     Int64 write 0/16B37A8
        '00000000016b3778', //     Int64 flush 0/16B3778
        'ffffffff00000001', //     Int64 apply FFFFFFFF/1
        '0002b0de36af8a40', //     Int64 clock
        '00', //                   Byte1 reply not requested
      ].join(''),
    );
  });

  test('sets the reply byte and writes a clock before 2000 as a negative number', () => {
    const buf = encodeStandbyStatus({ write: 0n, flush: 0n, apply: 0n, clock: -1n, replyRequested: true });
    assert.equal(buf.subarray(25).toString('hex'), 'ffffffffffffffff' + '01');
  });

  test('an LSN outside 64 bits is a RangeError, not a wrapped value', () => {
    const status = { write: -1n, flush: 0n, apply: 0n, clock: 0n, replyRequested: false };
    assert.throws(() => encodeStandbyStatus(status), RangeError);
    assert.throws(() => encodeStandbyStatus({ ...status, write: 0n, flush: 2n ** 64n }), RangeError);
  });
});

describe('pgClock', () => {
  test('is zero at the PostgreSQL epoch', () => {
    assert.equal(pgClock(Date.UTC(2000, 0, 1)), 0n);
  });

  test('counts microseconds for a known date', () => {
    // 2024-01-01T10:00:00.123Z is 757418400.123 s after 2000-01-01.
    assert.equal(pgClock(Date.UTC(2024, 0, 1, 10, 0, 0, 123)), 757_418_400_123_000n);
  });

  test('keeps fractional milliseconds and goes negative before 2000', () => {
    assert.equal(pgClock(Date.UTC(2000, 0, 1) + 1.5), 1_500n);
    assert.equal(pgClock(Date.UTC(1999, 11, 31, 23, 59, 59)), -1_000_000n);
  });

  test('a non-finite time is a RangeError', () => {
    assert.throws(() => pgClock(Number.NaN), RangeError);
  });
});

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EventMeta } from '../../src/event/change-event.js';
import { eventId, transactionIdPrefix, type TransactionIdPrefix } from '../../src/event/event-id.js';
import { JsonBytes } from '../../src/event/json-bytes.js';
import { COMMIT_MARKER, NON_TRANSACTIONAL } from '../../src/event/transaction.js';
import { HpubBatch } from '../../src/sink/hpub-batch.js';
import { IdChainHeaders, slotHeaderLine, writeHeaderBlock } from '../../src/sink/jetstream-sink.js';

interface Frame {
  subject: string;
  reply: string;
  headers: string;
  payload: Buffer;
}

/**
 * Reads HPUB frames as nats-server does: the arguments are what runs of spaces separate (four, or
 * three without a reply subject, which is then ''), and the line's byte counts must match the bytes
 * that follow.
 */
function parseFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (at < bytes.length) {
    const eol = bytes.indexOf('\r\n', at);
    assert.ok(eol > at, `no protocol line at byte ${at}`);
    const line = bytes.subarray(at, eol).toString('utf8');
    assert.ok(line.startsWith('HPUB '), `an HPUB line: ${line}`);
    const args = line
      .slice(5)
      .split(/ +/)
      .filter((a) => a !== '');
    assert.ok(args.length === 4 || args.length === 3, `HPUB line has 3 or 4 arguments: ${line}`);
    if (args.length === 3) args.splice(1, 0, '');
    const [subject, reply, hlenText, totalText] = args as [string, string, string, string];
    assert.match(hlenText, /^[1-9]\d*$/);
    assert.match(totalText, /^[1-9]\d*$/);
    const hlen = Number(hlenText);
    const total = Number(totalText);
    const body = eol + 2;
    assert.ok(body + total + 2 <= bytes.length, 'frame runs past the data');
    assert.equal(
      bytes.subarray(body + total, body + total + 2).toString('latin1'),
      '\r\n',
      'frame ends with CRLF',
    );
    const headers = bytes.subarray(body, body + hlen).toString('latin1');
    assert.ok(headers.startsWith('NATS/1.0\r\n') && headers.endsWith('\r\n\r\n'), 'header block is whole');
    frames.push({ subject, reply, headers, payload: Buffer.from(bytes.subarray(body + hlen, body + total)) });
    at = body + total + 2;
  }
  return frames;
}

/** A batch whose sends are recorded, each copied at the time it is made. */
function recorder(flushBytes?: number) {
  const sends: { view: Uint8Array; copy: Buffer }[] = [];
  const batch = new HpubBatch((view) => sends.push({ view, copy: Buffer.from(view) }), flushBytes);
  const all = () => Buffer.concat(sends.map((s) => s.copy));
  return { batch, sends, all };
}

const HEADERS = 'NATS/1.0\r\nNats-Msg-Id: id-1\r\n\r\n';

/** Queues a message given as text: the reply `<prefix><number>` is split as the sink passes it. */
function add(
  batch: HpubBatch,
  subject: string,
  reply: string,
  headers: string,
  payload: string | Uint8Array,
  maxBytes: number,
  chain = -1,
): number {
  const dot = reply.lastIndexOf('.') + 1;
  const body = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const bytes = (t: string) => Buffer.from(t, 'utf8');
  return batch.add(
    bytes(subject),
    bytes(reply.slice(0, dot)),
    Number(reply.slice(dot)),
    bytes(headers),
    body,
    maxBytes,
    chain,
  );
}
const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

describe('HpubBatch', () => {
  test('frames wait for a microtask and go out as one send, with exact byte counts', async () => {
    const { batch, sends, all } = recorder();
    const payloads = ['{"id":1}', '{"name":"x"}', '{}'];
    payloads.forEach((p, i) =>
      assert.equal(add(batch, `db.public.t${i}`, `_in.${i}`, HEADERS, p, 1e6), HEADERS.length + p.length),
    );
    assert.equal(sends.length, 0, 'nothing sent while the work that fills the batch runs');
    await tick();
    assert.equal(sends.length, 1);
    const frames = parseFrames(all());
    assert.deepEqual(
      frames.map((f) => [f.subject, f.reply, f.headers, f.payload.toString('utf8')]),
      payloads.map((p, i) => [`db.public.t${i}`, `_in.${i}`, HEADERS, p]),
    );
  });

  test('multi-byte characters are counted in bytes, in the payload and in the subject', async () => {
    const { batch, all } = recorder();
    // 1 + 2 + 3 + 4 bytes per character; the counts change number of digits (9x → 1xx).
    const payloads = ['a', 'é', '€', '😀', 'é'.repeat(60), '€'.repeat(40) + 'x'.repeat(20)];
    const sizes = payloads.map((p) => add(batch, 'db.public.café', '_in.1', HEADERS, p, 1e6));
    assert.deepEqual(
      sizes,
      payloads.map((p) => HEADERS.length + Buffer.byteLength(p)),
    );
    await tick();
    const frames = parseFrames(all());
    assert.deepEqual(
      frames.map((f) => [f.subject, f.payload.toString('utf8')]),
      payloads.map((p) => ['db.public.café', p]),
    );
  });

  test('byte payloads are sent as they are, in order with text frames', async () => {
    const { batch, all } = recorder();
    const bytes = Uint8Array.from([0, 0xff, 13, 10, 0x80, 65]);
    add(batch, 'a', 'r.1', HEADERS, 'first', 1e6);
    assert.equal(add(batch, 'b', 'r.2', HEADERS, bytes, 1e6), HEADERS.length + bytes.length);
    add(batch, 'c', 'r.3', HEADERS, 'third', 1e6);
    await tick();
    const frames = parseFrames(all());
    assert.deepEqual(
      frames.map((f) => f.subject),
      ['a', 'b', 'c'],
    );
    assert.deepEqual([...frames[1]!.payload], [...bytes]);
    assert.equal(frames[2]!.payload.toString(), 'third');
  });

  test('a message over maxBytes is not queued, and its size is returned', async () => {
    const { batch, sends, all } = recorder();
    const big = 'é'.repeat(100); // 100 characters, 200 bytes
    const max = HEADERS.length + 150;
    assert.equal(add(batch, 'a', 'r.1', HEADERS, big, max), HEADERS.length + 200);
    assert.equal(add(batch, 'a', 'r.2', HEADERS, new Uint8Array(151), max), HEADERS.length + 151);
    assert.equal(add(batch, 'b', 'r.3', HEADERS, 'ok', max), HEADERS.length + 2);
    await tick();
    assert.equal(sends.length, 1);
    assert.deepEqual(
      parseFrames(all()).map((f) => f.reply),
      ['r.3'],
    );
  });

  test('a full batch is sent at once; frames larger than the buffer and sent bytes are never overwritten', async () => {
    const { batch, sends, all } = recorder(1024);
    const payloads: string[] = [];
    for (let i = 0; i < 2000; i++) payloads.push(`{"i":${i},"text":"${'x'.repeat(i % 50)}"}`);
    payloads.splice(700, 0, 'y'.repeat(300_000), 'é'.repeat(200_000)); // larger than one buffer
    for (const [i, p] of payloads.entries()) add(batch, 'db.public.t', `_in.${i}`, HEADERS, p, 1e9);
    assert.ok(sends.length > 100, `sent ${sends.length} times before the microtask`);
    for (const s of sends) assert.deepEqual(Buffer.from(s.view), s.copy, 'a sent buffer changed afterwards');
    await tick();
    const frames = parseFrames(all());
    assert.equal(frames.length, payloads.length);
    frames.forEach((f, i) => {
      assert.equal(f.reply, `_in.${i}`);
      assert.equal(f.payload.toString('utf8'), payloads[i]);
    });
  });
});

describe('HpubBatch chains', () => {
  test('only the last frame of each chain in a batch has its reply subject; the others none, same length', async () => {
    const { batch, sends, all } = recorder();
    add(batch, 'a.x', '_in.1', HEADERS, 'one', 1e6, 0);
    add(batch, 'b.x', '_in.2', HEADERS, 'two', 1e6, 1);
    add(batch, 'a.x', '_in.3', HEADERS, 'three', 1e6, 0);
    add(batch, 'c.x', '_in.4', HEADERS, 'four', 1e6); // no chain: always its reply
    add(batch, 'a.x', '_in.10', HEADERS, 'five', 1e6, 0);
    add(batch, 'c.x', '_in.11', HEADERS, 'six', 1e6);
    await tick();
    assert.equal(sends.length, 1);
    assert.deepEqual(
      parseFrames(all()).map((f) => [f.subject, f.reply, f.payload.toString()]),
      [
        ['a.x', '', 'one'],
        ['b.x', '_in.2', 'two'],
        ['a.x', '', 'three'],
        ['c.x', '_in.4', 'four'],
        ['a.x', '_in.10', 'five'],
        ['c.x', '_in.11', 'six'],
      ],
    );
    // The place of a missing reply subject is as long as the reply subject would be.
    const lines = all()
      .toString('latin1')
      .split('\r\n')
      .filter((l) => l.startsWith('HPUB'));
    assert.equal(lines[0], `HPUB a.x ${' '.repeat('_in.1'.length)} ${HEADERS.length} ${HEADERS.length + 3}`);

    // AND a new batch starts every chain again
    add(batch, 'a.x', '_in.12', HEADERS, 'seven', 1e6, 0);
    add(batch, 'a.x', '_in.13', HEADERS, 'eight', 1e6, 0);
    await tick();
    assert.deepEqual(
      parseFrames(sends[1]!.copy).map((f) => f.reply),
      ['', '_in.13'],
    );
  });

  test('a batch sent because it is full, or because the buffer is, ends each chain with a reply subject', async () => {
    const { batch, sends, all } = recorder(1024);
    const n = 3000;
    for (let i = 1; i <= n; i++) {
      const payload = `{"i":${i},"pad":"${i === 1500 ? 'z'.repeat(300_000) : ''}"}`; // one frame larger than the buffer
      add(batch, 'a.x', `_in.${i}`, HEADERS, payload, 1e9, i % 2);
    }
    await tick();
    assert.ok(sends.length > 50, `sent ${sends.length} times`);
    for (const sent of sends) {
      const frames = parseFrames(sent.copy);
      for (const chain of [0, 1]) {
        const mine = frames.filter(
          (f) => (JSON.parse(f.payload.toString()) as { i: number }).i % 2 === chain,
        );
        if (mine.length === 0) continue;
        assert.notEqual(mine.at(-1)!.reply, '', 'the last frame of a chain in a send has its reply subject');
        assert.ok(
          mine.slice(0, -1).every((f) => f.reply === ''),
          'the others have none',
        );
      }
    }
    const frames = parseFrames(all());
    assert.equal(frames.length, n);
    for (const f of frames) if (f.reply !== '') assert.match(f.reply, /^_in\.\d+$/);
  });
});

describe('event header section', () => {
  const ALL = { lsn: true, xid: true, position: true };
  const bySeq = (expected: number) => ({ expected, prevPrefix: null, prevNumber: 0 });

  test('IdChainHeaders writes the same bytes as writeHeaderBlock, event after event', () => {
    const out = new JsonBytes(8);
    const slot = slotHeaderLine('a_slot_name');
    const template = new IdChainHeaders(slot);
    const none = { lsn: false, xid: false, position: false };
    const txs = [0x16b3748n, 0x16b3749n, 0xffffffff00000000n, 0x1n].map((lsn) =>
      transactionIdPrefix(0x1234567, lsn),
    );
    let prev: { prevPrefix: TransactionIdPrefix; prevNumber: number } | null = null;
    let compared = 0;
    for (const [t, idPrefix] of txs.entries()) {
      for (const position of [0, 1, 2, 15, 16, 255, 0xfffffffe, 0xffffffff]) {
        const meta: EventMeta = { idPrefix, idNumber: position, lsn: '0/1', xid: 700 + t, position };
        if (prev !== null) {
          const end: { expected: number; prevPrefix: TransactionIdPrefix; prevNumber: number } = {
            expected: 99,
            ...prev,
          };
          const expected: Buffer = Buffer.from(writeHeaderBlock(out, meta, slot, end, none));
          assert.equal(template.write(meta, end).toString('latin1'), expected.toString('latin1'));
          compared++;
        }
        // every third event follows an event the template did not write (a message outside a
        // transaction, written by writeHeaderBlock)
        prev =
          compared % 3 === 2
            ? { prevPrefix: txs[(t + 1) % txs.length]!, prevNumber: 0xabcdef }
            : { prevPrefix: idPrefix, prevNumber: position };
      }
    }
    assert.equal(compared, txs.length * 8 - 1);
  });

  test('chained by ids: Nats-Expected-Last-Msg-Id names the event before, in place of the sequence', () => {
    const out = new JsonBytes(8);
    const idPrefix = transactionIdPrefix(0x2abcdef, 0x16b3748n);
    const before = transactionIdPrefix(0x2abcdef, 0x16b0000n);
    const meta: EventMeta = { idPrefix, idNumber: 0, lsn: '0/16B3748', xid: 726, position: 0 };
    const none = { lsn: false, xid: false, position: false };
    assert.equal(
      writeHeaderBlock(
        out,
        meta,
        slotHeaderLine('s'),
        { expected: 5, prevPrefix: before, prevNumber: 0xfffffffe },
        none,
      ).toString('latin1'),
      `NATS/1.0\r\nNats-Msg-Id: ${eventId(idPrefix, 0)}\r\nPgwalstreams-Slot: s\r\n` +
        `Nats-Expected-Last-Msg-Id: ${eventId(before, 0xfffffffe)}\r\n\r\n`,
    );
  });

  test('Nats-Msg-Id, the transaction metadata (or Transactional: false), the slot, the expected last sequence', () => {
    const out = new JsonBytes(8);
    const idPrefix = transactionIdPrefix(0x2abcdef, 0x16b3748n);
    const id = (n: number) => eventId(idPrefix, n);
    const slot = slotHeaderLine('pgwalstreams_slot');
    const block = (meta: Omit<EventMeta, 'idPrefix'>, expected: number) =>
      writeHeaderBlock(out, { idPrefix, ...meta }, slot, bySeq(expected), ALL).toString('latin1');
    const tail = (expected: number) =>
      `Pgwalstreams-Slot: pgwalstreams_slot\r\nNats-Expected-Last-Sequence: ${expected}\r\n\r\n`;
    assert.equal(
      block({ idNumber: 1234567, lsn: '0/16B3748', xid: 4294967295, position: 1234567 }, 0),
      `NATS/1.0\r\nNats-Msg-Id: ${id(1234567)}\r\nPgwalstreams-Lsn: 0/16B3748\r\nPgwalstreams-Xid: 4294967295\r\n` +
        'Pgwalstreams-Position: 1234567\r\n' +
        tail(0),
    );
    assert.equal(
      block(
        { idNumber: NON_TRANSACTIONAL, lsn: 'FFFFFFFF/FFFFFFFF', xid: null, position: null },
        2 ** 53 - 1,
      ),
      `NATS/1.0\r\nNats-Msg-Id: ${id(NON_TRANSACTIONAL)}\r\nPgwalstreams-Lsn: FFFFFFFF/FFFFFFFF\r\n` +
        'Pgwalstreams-Transactional: false\r\n' +
        tail(2 ** 53 - 1),
    );
    assert.equal(
      block({ idNumber: COMMIT_MARKER, lsn: '0/1', xid: 0, position: null }, 42),
      `NATS/1.0\r\nNats-Msg-Id: ${id(COMMIT_MARKER)}\r\nPgwalstreams-Lsn: 0/1\r\nPgwalstreams-Xid: 0\r\n` +
        tail(42),
    );
  });

  test('nats.headers picks the transaction headers; a message outside a transaction always says so', () => {
    const out = new JsonBytes(8);
    const idPrefix = transactionIdPrefix(0x2abcdef, 0x16b3748n);
    const id = eventId(idPrefix, 7);
    const slot = slotHeaderLine('s');
    const tail = 'Pgwalstreams-Slot: s\r\nNats-Expected-Last-Sequence: 9\r\n\r\n';
    const meta: EventMeta = { idPrefix, idNumber: 7, lsn: '0/16B3748', xid: 726, position: 7 };
    const block = (m: EventMeta, include: { lsn: boolean; xid: boolean; position: boolean }) =>
      writeHeaderBlock(out, m, slot, bySeq(9), include).toString('latin1');
    const none = { lsn: false, xid: false, position: false };
    assert.equal(block(meta, none), `NATS/1.0\r\nNats-Msg-Id: ${id}\r\n${tail}`);
    assert.equal(
      block(meta, { ...none, position: true }),
      `NATS/1.0\r\nNats-Msg-Id: ${id}\r\nPgwalstreams-Position: 7\r\n${tail}`,
    );
    assert.equal(
      block(meta, { ...none, lsn: true, xid: true }),
      `NATS/1.0\r\nNats-Msg-Id: ${id}\r\nPgwalstreams-Lsn: 0/16B3748\r\nPgwalstreams-Xid: 726\r\n${tail}`,
    );
    assert.equal(
      block({ ...meta, xid: null, position: null }, none),
      `NATS/1.0\r\nNats-Msg-Id: ${id}\r\nPgwalstreams-Transactional: false\r\n${tail}`,
    );
  });
});

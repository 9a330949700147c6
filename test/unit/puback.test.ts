import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MsgImpl } from '@nats-io/nats-core/internal';
import type { Msg } from '@nats-io/transport-node';
import { isPlainPubAck, replySeq } from '../../src/sink/jetstream-sink.js';

// PubAck bodies as nats-server 2.9.10 sends them (captured from a real server).
const enc = (s: string) => new TextEncoder().encode(s);

describe('PubAck recognition', () => {
  test('a plain success and a duplicate are recognised without parsing', () => {
    assert.equal(isPlainPubAck(enc('{"stream":"S", "seq":1}')), true);
    assert.equal(isPlainPubAck(enc('{"stream":"events", "seq":12345678}')), true);
    assert.equal(isPlainPubAck(enc('{"stream":"S", "seq":1,"duplicate": true}')), true);
  });

  test('errors are never taken for a success, whatever the field order', () => {
    for (const body of [
      '{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}',
      '{"error":{"code":503,"err_code":10077,"description":"maximum messages per subject exceeded"},"stream":"S","seq":0}',
      '{"stream":"S","seq":0,"error":{"code":503,"description":"reordered"}}',
      '{"stream":',
      '',
    ]) {
      assert.equal(isPlainPubAck(enc(body)), false, body);
    }
  });
});

describe('PubAck subject', () => {
  const inbox = '_pgw.AbCdEfGhIjKl.';

  test('the event number is read from the bytes nats.js keeps, which it has not decoded', () => {
    // A message as the installed nats.js builds it from a MSG line.
    const msg = new MsgImpl(
      { subject: enc(`${inbox}4096`), sid: 1, size: 0, hdr: -1 } as never,
      enc(''),
      {} as never,
    );
    assert.equal(replySeq(msg as unknown as Msg, inbox.length), 4096);
    assert.equal((msg as unknown as { _subject?: string })._subject, undefined);
  });

  test('a message without those bytes is read from its subject', () => {
    for (const seq of [1, 9, 10, 123456789, 2 ** 40]) {
      const msg = { subject: `${inbox}${seq}` } as Msg;
      assert.equal(replySeq(msg, inbox.length), seq);
    }
  });
});

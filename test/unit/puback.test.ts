import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isPlainPubAck, pubAckEndsWithTrue } from '../../src/sink/jetstream-sink.js';

// PubAck bodies as nats-server 2.9.10 sends them (captured from a real server).
const enc = (s: string) => new TextEncoder().encode(s);

describe('PubAck recognition', () => {
  test('a plain success and a duplicate are recognised without parsing', () => {
    assert.equal(isPlainPubAck(enc('{"stream":"S", "seq":1}')), true);
    assert.equal(isPlainPubAck(enc('{"stream":"events", "seq":12345678}')), true);
    assert.equal(pubAckEndsWithTrue(enc('{"stream":"S", "seq":1}')), false);
    assert.equal(pubAckEndsWithTrue(enc('{"stream":"S", "seq":1,"duplicate": true}')), true);
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

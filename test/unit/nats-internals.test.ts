import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NatsConnection } from '@nats-io/transport-node';
import { isRetryable, NatsClientError } from '../../src/errors.js';
import { natsInternals } from '../../src/sink/nats-internals.js';

describe('nats.js internals', () => {
  test('a client without the command queue is refused with an error that stops the service and says what to install', () => {
    for (const nc of [{}, { protocol: {} }, { protocol: { sendCommand: () => {} } }]) {
      assert.throws(
        () => natsInternals(nc as unknown as NatsConnection),
        (err) =>
          err instanceof NatsClientError &&
          !isRetryable(err) &&
          /protocol\.sendCommand and flushPending/.test(err.message) &&
          /version pinned in package\.json/.test(err.message),
      );
    }
  });

  test('send hands the bytes to the command queue, then flushes it, on the protocol object', () => {
    const calls: string[] = [];
    const protocol = {
      sendCommand(this: unknown, bytes: Uint8Array) {
        assert.equal(this, protocol);
        calls.push(`send ${Buffer.from(bytes).toString()}`);
      },
      flushPending(this: unknown) {
        assert.equal(this, protocol);
        calls.push('flush');
      },
    };
    const { send } = natsInternals({ protocol } as unknown as NatsConnection);
    send(Buffer.from('PUB a 1\r\nx\r\n'));
    assert.deepEqual(calls, ['send PUB a 1\r\nx\r\n', 'flush']);
  });
});

/**
 * Pins the parts of nats.js that pgwalstreams uses outside its documented API
 * (`src/sink/nats-internals.ts`) on a real connection to a real nats-server: an upgrade of
 * `@nats-io/transport-node` that moves or changes them fails here, not in production.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { natsInternals, replySubjectBytes } from '../../src/sink/nats-internals.js';
import { startNats, type NatsServer } from './harness/nats.js';
import { waitFor } from './harness/wait.js';

describe('nats.js internals', () => {
  let nats: NatsServer;
  let nc: NatsConnection;

  before(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
  });

  after(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  test('the command queue sends raw protocol bytes, in order with the client’s own commands', async () => {
    // GIVEN a subscriber, and the connection's internals
    const seen: { subject: string; data: string; bytes: Uint8Array | undefined }[] = [];
    nc.subscribe('pinned.>', {
      callback: (_err, msg: Msg) => {
        seen.push({
          subject: msg.subject,
          data: new TextDecoder().decode(msg.data),
          bytes: replySubjectBytes(msg),
        });
      },
    });
    await nc.flush();
    const { send } = natsInternals(nc);

    // WHEN two PUB frames go through the command queue around a publish of the client's own
    send(new TextEncoder().encode('PUB pinned.a 5\r\nfirst\r\n'));
    nc.publish('pinned.b', 'second');
    send(new TextEncoder().encode('PUB pinned.c 5\r\nthird\r\nPUB pinned.d 6\r\nfourth\r\n'));
    await nc.flush();

    // THEN the subscriber gets all four in that order, and each message keeps its subject's bytes
    await waitFor(() => seen.length >= 4 || undefined, { what: 'four messages' });
    assert.deepEqual(
      seen.map((m) => [m.subject, m.data]),
      [
        ['pinned.a', 'first'],
        ['pinned.b', 'second'],
        ['pinned.c', 'third'],
        ['pinned.d', 'fourth'],
      ],
    );
    for (const m of seen) {
      assert.ok(m.bytes instanceof Uint8Array, `${m.subject}: nats.js keeps the subject's bytes`);
      assert.equal(new TextDecoder().decode(m.bytes), m.subject);
    }
  });
});

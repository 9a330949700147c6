/**
 * The parts of nats.js that pgwalstreams uses outside its documented API
 * (`src/sink/nats-internals.ts`): pinned on a real connection to a real nats-server, so that an
 * upgrade of `@nats-io/transport-node` that moves or changes them fails here, not in production;
 * and a client without them stops the service at start instead of being retried.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Msg } from '@nats-io/transport-node';
import { natsInternals, replySubjectBytes } from '../../src/sink/nats-internals.js';
import { freshNames, serviceConfig, startServers, type Servers } from './harness/scenario.js';
import { ServiceProcess, type Exit } from './harness/service.js';
import { waitFor } from './harness/wait.js';

/** A preload that gives the service connections without nats.js's `protocol`. */
const HIDE_INTERNALS = fileURLToPath(new URL('./fixtures/hide-nats-internals.js', import.meta.url));
/**
 * The service over tsc's output rather than the bundle, which carries nats.js inside itself where
 * the preload cannot reach it; with the flag of the binary's shebang.
 */
const UNBUNDLED = [
  process.execPath,
  '--max-semi-space-size=16',
  fileURLToPath(new URL('./fixtures/unbundled-main.js', import.meta.url)),
];

describe('nats.js internals', () => {
  let s: Servers;

  before(async () => {
    s = await startServers();
  });

  after(async () => {
    await s?.dispose();
  });

  test('the command queue sends raw protocol bytes, in order with the client’s own commands', async () => {
    // GIVEN a subscriber, and the internals of the test's own connection
    const seen: { subject: string; data: string; bytes: Uint8Array | undefined }[] = [];
    s.nc.subscribe('pinned.>', {
      callback: (_err, msg: Msg) => {
        seen.push({
          subject: msg.subject,
          data: new TextDecoder().decode(msg.data),
          bytes: replySubjectBytes(msg),
        });
      },
    });
    await s.nc.flush();
    const { send } = natsInternals(s.nc);

    // WHEN two PUB frames go through the command queue around a publish of the client's own
    send(new TextEncoder().encode('PUB pinned.a 5\r\nfirst\r\n'));
    s.nc.publish('pinned.b', 'second');
    send(new TextEncoder().encode('PUB pinned.c 5\r\nthird\r\nPUB pinned.d 6\r\nfourth\r\n'));
    await s.nc.flush();

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

  test('a NATS client without them: exit 1 at start with what to install, no retry, nothing replicated', async () => {
    // GIVEN a service whose nats.js connections have no protocol.sendCommand (a build made with
    // another nats.js; played by the preload on the unbundled modules)
    const names = await freshNames(s);
    const service = ServiceProcess.start(
      serviceConfig(s, names),
      { NODE_OPTIONS: `--import=${HIDE_INTERNALS}` },
      undefined,
      UNBUNDLED,
    );
    try {
      // WHEN it starts, THEN it stops by itself with exit status 1
      let ended: Exit | undefined;
      void service.exited.then((exit) => (ended = exit));
      const exit = await waitFor(() => ended, { what: 'the service to exit by itself', timeoutMs: 20_000 });
      assert.deepEqual(exit, { code: 1, signal: null }, service.tail());
      // AND says what is missing and what to do, after connecting to NATS and before replicating
      const fatal = service.logs.find((l) => l.level === 60);
      assert.match(fatal?.msg ?? '', /protocol\.sendCommand and flushPending/);
      assert.match(fatal?.msg ?? '', /install the version pinned in package\.json/);
      const messages = service.logs.map((l) => l.msg);
      assert.ok(messages.includes('nats connected'), service.tail());
      assert.ok(!messages.includes('replication session failed, retrying'), 'it is not retried');
      assert.ok(!messages.includes('replication started'), service.tail());
      const slots = await s.pg.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [names.slot]);
      assert.equal(slots.length, 0, 'no slot was created');
    } finally {
      await service.dispose();
    }
  });
});

/**
 * A NATS user with only the permissions the README names: publish on `<topicPrefix>.>` and on the
 * three JetStream API subjects a session reads its streams with, subscribe on `_pgw.>` (the PubAck
 * inbox and the replies to those reads). Without one of them nothing is confirmed, and the service
 * says which permission is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createStream, readStream, waitForCount } from './harness/jetstream.js';
import {
  confirmedFlush,
  freshNames,
  inTransaction,
  serviceConfig,
  startServers,
  startService,
  type Names,
  type Servers,
} from './harness/scenario.js';
import { ServiceProcess } from './harness/service.js';
import { waitFor } from './harness/wait.js';
import { parseLsn } from '../../src/source/lsn.js';

const PREFIX = 'perm';
const ADMIN = { user: 'admin', pass: 'admin-Pa55' };
const RESTRICTED = { user: 'pgw', password: 'pgw-Pa55' };
const NO_INBOX = { user: 'noinbox', password: 'noinbox-Pa55' };
const NO_PUBLISH = { user: 'nopub', password: 'nopub-Pa55' };
const LOOKUPS = '"$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.MSG.GET.*"';

const NATS_CONFIG = `
authorization {
  users: [
    { user: ${ADMIN.user}, password: "${ADMIN.pass}" }
    { user: ${RESTRICTED.user}, password: "${RESTRICTED.password}",
      permissions: { publish: ["${PREFIX}.>", ${LOOKUPS}], subscribe: ["_pgw.>"] } }
    { user: ${NO_INBOX.user}, password: "${NO_INBOX.password}",
      permissions: { publish: ["${PREFIX}.>", ${LOOKUPS}], subscribe: ["_INBOX.>"] } }
    { user: ${NO_PUBLISH.user}, password: "${NO_PUBLISH.password}",
      permissions: { publish: ["${PREFIX}.public.other.>", ${LOOKUPS}], subscribe: ["_pgw.>"] } }
  ]
}
`;

describe('NATS permissions', () => {
  let s: Servers;

  before(async () => {
    s = await startServers({ natsConfig: NATS_CONFIG, nats: { connectOptions: ADMIN } });
  });

  after(async () => {
    await s?.dispose();
  });

  /** Names whose subjects are under PREFIX, the only subjects the restricted users may publish to. */
  async function names(table: string): Promise<Names> {
    const n = { ...(await freshNames(s, { createStream: false })), prefix: PREFIX };
    await createStream(s.nc, n.stream, [`${PREFIX}.public.${table}.>`]);
    await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, name text)`);
    return n;
  }

  /** Commits three inserts into `table` and returns the commit's WAL position (an upper bound). */
  async function insertThree(table: string): Promise<bigint> {
    await inTransaction(s, async (c) => {
      for (let id = 1; id <= 3; id++) await c.query(`INSERT INTO ${table} VALUES ($1, $2)`, [id, `n${id}`]);
    });
    const [row] = await s.pg.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    return parseLsn(row!.lsn);
  }

  test('publish on the prefix and the stream reads, subscribe on _pgw.>: enough, events stored and confirmed', async () => {
    // GIVEN the service connected as a user allowed only those two subjects
    const n = await names('perm_ok');
    const service = await startService(serviceConfig(s, n, { nats: RESTRICTED }));
    try {
      // WHEN a transaction of three inserts commits
      const committedBy = await insertThree('perm_ok');
      // THEN the three events are stored, and the slot confirms past the commit (PubAcks arrived)
      await waitForCount(s.nc, n.stream, 3);
      const events = await readStream(s.nc, n.stream);
      assert.deepEqual(
        events.map((e) => [e.subject, e.event?.data['id']]),
        [1, 2, 3].map((id) => [`${PREFIX}.public.perm_ok.insert`, id]),
      );
      await waitFor(async () => ((await confirmedFlush(s, n.slot)) >= committedBy ? true : undefined), {
        what: 'the slot to confirm the commit',
        timeoutMs: 20_000,
      });
    } finally {
      await service.dispose();
    }
  });

  test('without subscribe on _pgw.>, nothing is confirmed and the error names the permission', async () => {
    // GIVEN the service connected as a user who may publish but not subscribe to the inbox
    const n = await names('perm_no_inbox');
    const service = ServiceProcess.start(serviceConfig(s, n, { nats: NO_INBOX }));
    try {
      await service.waitForLog('replication slot created');
      const [row] = await s.pg.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
      const before = parseLsn(row!.lsn);
      const failures = () => service.logs.filter((l) => l.msg === 'replication session failed, retrying');
      const seen = failures().length;
      // WHEN a transaction commits
      await insertThree('perm_no_inbox');
      // THEN the service reports the missing permission and retries, again and again
      await waitFor(() => (failures().length >= seen + 2 ? true : undefined), {
        what: 'two failed sessions after the commit',
        timeoutMs: 20_000,
      });
      assert.match(JSON.stringify(failures().at(-1)), /permission to subscribe to _pgw\.>/);
      // AND the slot was never confirmed past where the transaction starts
      assert.ok((await confirmedFlush(s, n.slot)) <= before, 'the slot moved past an unacknowledged commit');
    } finally {
      await service.dispose();
    }
  });

  test("without publish permission on a table's subject: the error names the subject and what to grant", async () => {
    // GIVEN the service connected as a user who may publish only on another table's subjects
    const n = await names('perm_no_pub');
    const service = await startService(serviceConfig(s, n, { nats: NO_PUBLISH }));
    try {
      const before = await confirmedFlush(s, n.slot);
      // WHEN a transaction commits
      await insertThree('perm_no_pub');
      // THEN the session ends with the server's refusal in words: the subject and the grant needed
      const failed = await service.waitForLog('replication session failed, retrying', 20_000);
      assert.match(
        (failed['err'] as { message: string }).message,
        new RegExp(
          `^the NATS user may not publish to ${PREFIX}\\.public\\.perm_no_pub\\.insert \\(nats-server: .*Permissions Violation for Publish.*\\): ` +
            `grant it publish permission on "${PREFIX}\\.>"`,
        ),
      );
      // AND nothing is confirmed past the commit
      assert.equal(await confirmedFlush(s, n.slot), before);
    } finally {
      await service.dispose();
    }
  });
});

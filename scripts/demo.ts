/**
 * The local demo: a throwaway PostgreSQL (logical mode) and nats-server (JetStream) in temp dirs,
 * pgwalstreams between them, the sample schema and changes from deploy/postgresql/init.sql, and
 * every event printed as it arrives on its subject. Everything is removed at the end.
 *
 * Usage (after `bash scripts/demo.sh` has built it): node dist/scripts/demo.js [--keep]
 *   --keep   keep running after the sample changes so you can make your own (Ctrl-C to stop)
 */
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startNats } from '../test/integration/harness/nats.js';
import { startPostgres } from '../test/integration/harness/postgres.js';
import { ServiceProcess } from '../test/integration/harness/service.js';

const keep = process.argv.includes('--keep');
const INIT_SQL = fileURLToPath(new URL('../../deploy/postgresql/init.sql', import.meta.url));
const say = (text: string) => process.stdout.write(`\x1b[1m==> ${text}\x1b[0m\n`);

say('starting a throwaway postgresql (wal_level=logical) and nats-server (jetstream)');
const [postgres, nats] = await Promise.all([startPostgres(), startNats()]);
let service: ServiceProcess | undefined;
try {
  await postgres.createDatabase('app');
  const config = {
    listener: { slotName: 'demo', serverPort: 0 },
    database: { host: postgres.host, port: postgres.port, name: 'app', user: postgres.user },
    nats: { address: nats.url, topicPrefix: 'db', stream: { name: 'db', storage: 'memory' } },
  };
  say(
    `starting pgwalstreams: postgresql ${postgres.host}:${postgres.port}/app -> ${nats.url}, stream "db" on db.>`,
  );
  service = ServiceProcess.start(config);
  await service.waitForLog('replication started');

  const nc = await connect({ servers: nats.url });
  const js = jetstream(nc);
  const consumer = await js.consumers.get('db', { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume();
  let seen = 0;
  const printed = (async () => {
    for await (const m of messages) {
      seen++;
      process.stdout.write(`\x1b[36m${m.subject}\x1b[0m ${m.string()}\n`);
    }
  })();

  say('running deploy/postgresql/init.sql: two tables, a transaction, updates, a rollback');
  // psql runs each statement on its own, as a user would; one multi-statement query would not.
  const psql = spawnSync(
    `${postgres.binDir}/psql`,
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', postgres.connectionStringFor('app'), '-f', INIT_SQL],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  if (psql.status !== 0) throw new Error(`psql failed on ${INIT_SQL}`);
  say('a few more inserts');
  const client = new pg.Client({ connectionString: postgres.connectionStringFor('app') });
  await client.connect();
  await client.query(`INSERT INTO users (name, email) VALUES ('Grace Hopper', 'grace@example.com')`);
  await client.query(
    `INSERT INTO orders (user_id, amount) SELECT id, 7.25 FROM users WHERE email = 'grace@example.com'`,
  );
  await client.end();

  const expected = 7; // see init.sql: 2 users + 1 order, 1 user update, 1 order update; then 1 user + 1 order
  const deadline = Date.now() + 15_000;
  while (seen < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (seen < expected)
    throw new Error(`only ${seen} of ${expected} events arrived; see ${service.dir}/service.log`);
  say(`${seen} events published; the rolled-back DELETE published nothing`);

  if (keep) {
    say(`still running: psql -h ${postgres.host} -p ${postgres.port} -U postgres app   (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  }
  messages.stop();
  await printed;
  await nc.close();
} finally {
  say('stopping and removing everything');
  await service?.dispose();
  await Promise.all([postgres.dispose(), nats.dispose()]);
}

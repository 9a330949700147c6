/**
 * TLS and authentication on real servers: a PostgreSQL that only accepts TLS connections with a
 * client certificate (hostssl, clientcert=verify-ca), and a nats-server that requires TLS with a
 * client certificate and a user and password. Certificates are made with openssl at test time.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { certDir, type CertDir, type CertPair } from './harness/certs.js';
import { readStream, waitForCount } from './harness/jetstream.js';
import { freshNames, serviceConfig, startServers, startService, type Servers } from './harness/scenario.js';
import { ServiceProcess, type Exit, type LogLine } from './harness/service.js';
import { waitFor } from './harness/wait.js';

const NATS_USER = 'pgwalstreams';
const NATS_PASSWORD = 'tls-test-Pa55word';

/** How the process ended, waiting at most `timeoutMs`. */
async function exitOf(service: ServiceProcess, timeoutMs = 15_000): Promise<Exit> {
  let exit: Exit | undefined;
  void service.exited.then((e) => (exit = e));
  return waitFor(() => exit, { what: 'the service to exit', timeoutMs, intervalMs: 25 });
}

/** The fatal log line the service wrote before exiting. */
function fatalLine(service: ServiceProcess): LogLine {
  const line = service.logs.find((l) => l.level === 60);
  assert.ok(line, `no fatal log line:\n${service.tail()}`);
  return line;
}

describe('TLS and authentication', () => {
  let certs: CertDir;
  let ca: CertPair;
  let otherCa: CertPair;
  let pgClient: CertPair;
  let natsClient: CertPair;
  let s: Servers;

  before(async () => {
    certs = certDir();
    ca = certs.ca('test-ca');
    otherCa = certs.ca('other-ca');
    const server = certs.issue(ca, 'server', {
      cn: 'localhost',
      san: ['DNS:localhost', 'IP:127.0.0.1'],
      usage: 'serverAuth',
    });
    pgClient = certs.issue(ca, 'pg-client', { cn: 'postgres', usage: 'clientAuth' });
    natsClient = certs.issue(ca, 'nats-client', { cn: 'pgwalstreams', usage: 'clientAuth' });

    const natsConf = join(certs.dir, 'nats.conf');
    writeFileSync(
      natsConf,
      [
        'tls {',
        `  cert_file: ${JSON.stringify(server.certFile)}`,
        `  key_file: ${JSON.stringify(server.keyFile)}`,
        `  ca_file: ${JSON.stringify(ca.certFile)}`,
        '  verify: true',
        '}',
        'authorization {',
        `  user: ${NATS_USER}`,
        `  password: ${JSON.stringify(NATS_PASSWORD)}`,
        '}',
        '',
      ].join('\n'),
    );
    const natsClientOptions = {
      tls: { ca: ca.cert, cert: natsClient.cert, key: natsClient.key },
      user: NATS_USER,
      pass: NATS_PASSWORD,
    };

    try {
      s = await startServers({
        postgres: {
          files: { 'server.crt': server.cert, 'server.key': server.key, 'ca.crt': ca.cert },
          settings: {
            ssl: true,
            ssl_cert_file: 'server.crt',
            ssl_key_file: 'server.key',
            ssl_ca_file: 'ca.crt',
            // 127.0.0.2 is a loopback address that the server certificate does not name.
            listen_addresses: '127.0.0.1,127.0.0.2',
          },
          // TCP only with TLS and a client certificate signed by the CA; no rule for plain TCP.
          hba: ['local all all trust', 'hostssl all all 127.0.0.0/8 trust clientcert=verify-ca'],
          clientSsl: { ca: ca.cert, cert: pgClient.cert, key: pgClient.key },
        },
        nats: { args: ['-c', natsConf], connectOptions: natsClientOptions },
      });
    } catch (err) {
      certs.dispose();
      throw err;
    }
  });

  after(async () => {
    await s?.dispose();
    certs?.dispose();
  });

  /** The service's TLS settings for both servers; `database` and `nats` are merged over them. */
  function tlsConfig(
    names: Awaited<ReturnType<typeof freshNames>>,
    extra: { database?: object; nats?: object } = {},
  ): Record<string, unknown> {
    return serviceConfig(s, names, {
      database: {
        sslMode: 'verify-full',
        sslRootCert: ca.certFile,
        sslCert: pgClient.certFile,
        sslKey: pgClient.keyFile,
        ...extra.database,
      },
      nats: {
        tls: { ca: ca.certFile, cert: natsClient.certFile, key: natsClient.keyFile },
        user: NATS_USER,
        password: NATS_PASSWORD,
        ...extra.nats,
      },
    });
  }

  test('the servers refuse clients without TLS', async () => {
    // GIVEN the servers above, WHEN a client connects without TLS, THEN it is refused
    const plain = new pg.Client({ connectionString: s.pg.connectionString, ssl: false });
    await assert.rejects(plain.connect(), /no pg_hba\.conf entry .*no encryption/);
    await assert.rejects(connect({ servers: s.nats.url, tls: null, reconnect: false, timeout: 2000 }));
  });

  test('verify-full and NATS TLS with a user: an insert arrives, over encrypted connections', async () => {
    // GIVEN a table and the service with sslMode verify-full, the CA, a client certificate, and
    // NATS over TLS with a client certificate, a user and a password
    const names = await freshNames(s);
    await s.pg.query('CREATE TABLE tls_items (id int PRIMARY KEY, name text)');
    const service = await startService(tlsConfig(names));
    try {
      // WHEN a row is inserted
      await s.pg.query("INSERT INTO tls_items VALUES (1, 'secure')");

      // THEN it arrives in JetStream
      await waitForCount(s.nc, names.stream, 1, 10_000);
      const [stored] = await readStream(s.nc, names.stream);
      assert.equal(stored?.subject, `${names.prefix}.public.tls_items.insert`);
      assert.deepEqual(stored?.event.data, { id: 1, name: 'secure' });
      // AND the replication connection is encrypted and presented the client certificate
      const rows = await s.pg.query<{ ssl: boolean; client_dn: string | null }>(
        `SELECT s.ssl, s.client_dn FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid)
          WHERE r.application_name = 'pgwalstreams'`,
      );
      assert.deepEqual(rows, [{ ssl: true, client_dn: '/CN=postgres' }]);
    } finally {
      await service.dispose();
    }
  });

  test("a CA that did not sign the server's certificate: exit 1, naming database.sslRootCert", async () => {
    // GIVEN the service trusting another CA for PostgreSQL
    const names = await freshNames(s);
    const service = ServiceProcess.start(tlsConfig(names, { database: { sslRootCert: otherCa.certFile } }));
    try {
      // WHEN it starts, THEN it stops at the first connection with a message that says what to check
      assert.deepEqual(await exitOf(service), { code: 1, signal: null });
      assert.match(
        fatalLine(service).msg,
        /^cannot connect to postgresql at 127\.0\.0\.1:\d+: the server's certificate is not trusted \(.*certificate.*\): check database\.sslRootCert/,
      );
    } finally {
      await service.dispose();
    }
  });

  test('a host name the certificate does not name: verify-full refuses it, verify-ca accepts it', async () => {
    // GIVEN the server reached at 127.0.0.2, which its certificate does not name
    const host = { host: '127.0.0.2' };
    const refused = ServiceProcess.start(tlsConfig(await freshNames(s), { database: host }));
    try {
      // WHEN the service verifies the host name, THEN it stops, naming the mismatch
      assert.deepEqual(await exitOf(refused), { code: 1, signal: null });
      assert.match(
        fatalLine(refused).msg,
        /^cannot connect to postgresql at 127\.0\.0\.2:\d+: the server's certificate is not trusted \(.*127\.0\.0\.2.*\)/,
      );
    } finally {
      await refused.dispose();
    }

    // WHEN it verifies the chain only, THEN it replicates, and so it does without verification
    for (const database of [
      { ...host, sslMode: 'verify-ca' },
      { ...host, sslMode: 'require', sslRootCert: undefined },
    ]) {
      const names = await freshNames(s);
      const table = `host_${database.sslMode.replace('-', '_')}`;
      await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
      const service = await startService(tlsConfig(names, { database }));
      try {
        await s.pg.query(`INSERT INTO ${table} VALUES (1)`);
        await waitForCount(s.nc, names.stream, 1, 10_000);
      } finally {
        await service.dispose();
      }
    }
  });

  test("a CA that did not sign the NATS server's certificate: exit 1, naming nats.tls.ca", async () => {
    // GIVEN the service trusting another CA for NATS
    const names = await freshNames(s);
    const tls = { ca: otherCa.certFile, cert: natsClient.certFile, key: natsClient.keyFile };
    const service = ServiceProcess.start(tlsConfig(names, { nats: { tls } }));
    try {
      // WHEN it starts, THEN it stops at once instead of waiting for a server it will never trust
      assert.deepEqual(await exitOf(service), { code: 1, signal: null });
      assert.match(
        fatalLine(service).msg,
        /^cannot connect to nats at 127\.0\.0\.1:\d+: the server's certificate is not trusted: check nats\.tls\.ca/,
      );
    } finally {
      await service.dispose();
    }
  });

  test('a wrong NATS password: exit 1, saying the server refused the credentials', async () => {
    // GIVEN the service with a password the NATS server does not accept
    const names = await freshNames(s);
    const service = ServiceProcess.start(tlsConfig(names, { nats: { password: 'wrong-password' } }));
    try {
      // WHEN it starts, THEN it stops with a message naming the keys to check, and no secret
      assert.deepEqual(await exitOf(service), { code: 1, signal: null });
      const line = fatalLine(service);
      assert.match(
        line.msg,
        /^cannot connect to nats at 127\.0\.0\.1:\d+: the server refused the credentials: check nats\.user and nats\.password/,
      );
      assert.ok(!JSON.stringify(service.logs).includes('wrong-password'), 'the password is not logged');
    } finally {
      await service.dispose();
    }
  });
});

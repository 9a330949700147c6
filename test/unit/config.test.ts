import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ENV_OVERRIDES } from '../../src/config/env.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { describeStaticChanges, reloadProblems, splitReloadable } from '../../src/config/reloadable.js';
import { parseDuration, type Config } from '../../src/config/schema.js';
import { redactConfig } from '../../src/config/secrets.js';
import { ConfigError } from '../../src/errors.js';

/** The example at the repository root; this file runs from dist/test/unit/. */
const EXAMPLE_PATH = fileURLToPath(new URL('../../../config.example.yaml', import.meta.url));

const MINIMAL = 'database:\n  name: app\n  user: postgres\n';

function noFile(path: string): string {
  throw new Error(`unexpected read of ${path}`);
}

function parse(text: string, env: NodeJS.ProcessEnv = {}, readFile = noFile): Config {
  return parseConfig(text, env, readFile, 'test.yaml');
}

/** Parses text that must be invalid and returns the ConfigError. */
function parseError(text: string, env: NodeJS.ProcessEnv = {}, readFile = noFile): ConfigError {
  try {
    parse(text, env, readFile);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the configuration to be rejected');
}

/** The problem reported for `path`; fails when there is none. */
function problemAt(err: ConfigError, path: string): string {
  const problem = err.problems.find((p) => p.path === path);
  assert.ok(problem, `no problem at ${path}; got:\n${err.message}`);
  return problem.message;
}

describe('parseConfig defaults', () => {
  it('fills every default from a file that sets only the database name and user', () => {
    assert.deepEqual(parse(MINIMAL), {
      listener: {
        slotName: 'pgwalstreams',
        publication: 'wal-listener',
        serverPort: 8080,
        shutdownTimeout: 30_000,
        slotCheckInterval: 10_000,
        retainedWalWarning: 1024 ** 3,
        heartbeatInterval: 0,
        snapshot: 'never',
      },
      backfill: {
        bucket: 'pgwalstreams_backfill',
        replicas: 1,
        chunkTime: 500,
        maxChunkRows: 20_000,
      },
      database: {
        host: 'localhost',
        port: 5432,
        name: 'app',
        user: 'postgres',
        sslMode: 'disable',
        filter: { tables: {} },
      },
      nats: {
        address: ['nats://127.0.0.1:4222'],
        topicPrefix: 'db',
        transactionEvents: false,
        headers: [],
        maxInFlight: 4096,
        ackTimeout: 10_000,
        stream: undefined,
      },
      logger: { level: 'info', format: 'json' },
    });
  });

  it('treats keys written without a value as absent', () => {
    const config = parse(`${MINIMAL}  password:\n  filter:\nnats:\nlistener:\n  slotName:\n`);
    assert.equal(config.database.password, undefined);
    assert.deepEqual(config.database.filter.tables, {});
    assert.equal(config.listener.slotName, 'pgwalstreams');
  });

  it('defaults the stream subjects from the topic prefix and the other stream keys', () => {
    const config = parse(`${MINIMAL}nats:\n  topicPrefix: app.cdc\n  stream:\n    name: cdc\n`);
    assert.deepEqual(config.nats.stream, {
      name: 'cdc',
      subjects: ['app.cdc.>'],
      storage: 'file',
      duplicateWindow: 120_000,
      replicas: 1,
    });
  });

  it('splits a comma-separated NATS address into a list', () => {
    const config = parse(`${MINIMAL}nats:\n  address: nats://a:4222, tls://b:4223,c:4224\n`);
    assert.deepEqual(config.nats.address, ['nats://a:4222', 'tls://b:4223', 'c:4224']);
  });

  it('rejects an address that is not a NATS URL', () => {
    const err = parseError(`${MINIMAL}nats:\n  address: nats://a:4222,http://b:80\n`);
    assert.match(problemAt(err, 'nats.address'), /"http:\/\/b:80" is not a NATS server address/);
  });
});

describe('config.example.yaml', () => {
  it('loads and holds the values documented in the shape', async () => {
    const config = await loadConfig(EXAMPLE_PATH, {});
    assert.equal(config.database.host, '127.0.0.1');
    assert.equal(config.database.name, 'app');
    assert.equal(config.database.password, 'secret');
    assert.deepEqual(config.database.filter.tables, { users: ['insert', 'update'] });
    assert.deepEqual(config.nats.stream?.subjects, ['db.>']);
    assert.equal(config.nats.stream?.duplicateWindow, 120_000);
    assert.equal(config.listener.shutdownTimeout, 30_000);
  });

  // Keys that exclude a key the example sets, or need files and servers it cannot assume.
  const COMMENTED = [
    'database.passwordFile',
    'database.sslRootCert',
    'database.sslCert',
    'database.sslKey',
    'nats.tls.ca',
    'nats.tls.cert',
    'nats.tls.key',
    'nats.user',
    'nats.password',
    'nats.passwordFile',
    'nats.token',
    'nats.tokenFile',
    'nats.nkeySeedFile',
    'nats.credsFile',
  ];

  it('sets every key, or shows it as a comment when it excludes another', () => {
    const text = readFileSync(EXAMPLE_PATH, 'utf8');
    const raw: unknown = parseYaml(text);
    for (const { path, segments } of ENV_OVERRIDES) {
      if (COMMENTED.includes(path)) {
        const key = segments[segments.length - 1] ?? '';
        assert.match(text, new RegExp(`^\\s*#\\s+${key}: `, 'm'), `config.example.yaml shows ${path}`);
        continue;
      }
      let value = raw;
      for (const segment of segments) value = (value as Record<string, unknown> | undefined)?.[segment];
      assert.notEqual(value, undefined, `config.example.yaml does not set ${path}`);
    }
  });

  it('reports a missing file as a ConfigError naming it', async () => {
    await assert.rejects(loadConfig('does-not-exist.yaml', {}), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /does-not-exist\.yaml \(ENOENT\)/);
      return true;
    });
  });
});

/** PEM-shaped file contents and NATS secrets, enough for the loader's checks. */
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n';
const SEED = `SU${'A'.repeat(56)}`;
const CREDS_SEED = `SU${'B'.repeat(56)}`;
const CREDS = [
  '-----BEGIN NATS USER JWT-----',
  'eyJ0eXAiOiJKV1QifQ.e30.sig',
  '------END NATS USER JWT------',
  '',
  '************************* IMPORTANT *************************',
  '',
  '-----BEGIN USER NKEY SEED-----',
  CREDS_SEED,
  '------END USER NKEY SEED------',
  '',
].join('\n');

/** A file system with certificates at *.pem, keys at *.key, a seed at *.nk, creds at *.creds. */
function fakeFiles(path: string): string {
  if (path.endsWith('.pem')) return CERT_PEM;
  if (path.endsWith('.key')) return KEY_PEM;
  if (path.endsWith('.nk')) return `${SEED}\n`;
  if (path.endsWith('.creds')) return CREDS;
  return `content of ${path}\n`;
}

describe('environment overrides', () => {
  // One case per overridable key: the variable, its text, the value it must produce, and the
  // other variables the key needs to be valid.
  const cases: [string, string, (c: Config) => unknown, unknown, NodeJS.ProcessEnv?][] = [
    ['PGWALSTREAMS_LISTENER_SLOTNAME', 'slot_2', (c) => c.listener.slotName, 'slot_2'],
    ['PGWALSTREAMS_LISTENER_PUBLICATION', 'pub', (c) => c.listener.publication, 'pub'],
    ['PGWALSTREAMS_LISTENER_SERVERPORT', '0', (c) => c.listener.serverPort, 0],
    ['PGWALSTREAMS_LISTENER_SHUTDOWNTIMEOUT', '1m30s', (c) => c.listener.shutdownTimeout, 90_000],
    ['PGWALSTREAMS_LISTENER_SLOTCHECKINTERVAL', '5s', (c) => c.listener.slotCheckInterval, 5_000],
    [
      'PGWALSTREAMS_LISTENER_RETAINEDWALWARNING',
      '512MB',
      (c) => c.listener.retainedWalWarning,
      512 * 1024 ** 2,
    ],
    ['PGWALSTREAMS_LISTENER_HEARTBEATINTERVAL', '30s', (c) => c.listener.heartbeatInterval, 30_000],
    ['PGWALSTREAMS_LISTENER_SNAPSHOT', 'initial', (c) => c.listener.snapshot, 'initial'],
    ['PGWALSTREAMS_BACKFILL_BUCKET', 'cdc-progress', (c) => c.backfill.bucket, 'cdc-progress'],
    ['PGWALSTREAMS_BACKFILL_REPLICAS', '3', (c) => c.backfill.replicas, 3],
    ['PGWALSTREAMS_BACKFILL_CHUNKTIME', '2s', (c) => c.backfill.chunkTime, 2_000],
    ['PGWALSTREAMS_BACKFILL_MAXCHUNKROWS', '500', (c) => c.backfill.maxChunkRows, 500],
    ['PGWALSTREAMS_DATABASE_HOST', 'db.internal', (c) => c.database.host, 'db.internal'],
    ['PGWALSTREAMS_DATABASE_PORT', '6543', (c) => c.database.port, 6543],
    ['PGWALSTREAMS_DATABASE_NAME', 'other', (c) => c.database.name, 'other'],
    ['PGWALSTREAMS_DATABASE_USER', 'replicator', (c) => c.database.user, 'replicator'],
    ['PGWALSTREAMS_DATABASE_PASSWORD', 'from-env', (c) => c.database.password, 'from-env'],
    [
      'PGWALSTREAMS_DATABASE_PASSWORDFILE',
      '/secrets/pg',
      (c) => c.database.password,
      'content of /secrets/pg',
    ],
    ['PGWALSTREAMS_DATABASE_SSLMODE', 'verify-full', (c) => c.database.sslMode, 'verify-full'],
    [
      'PGWALSTREAMS_DATABASE_SSLROOTCERT',
      '/tls/ca.pem',
      (c) => c.database.sslRootCert,
      '/tls/ca.pem',
      { PGWALSTREAMS_DATABASE_SSLMODE: 'verify-ca' },
    ],
    [
      'PGWALSTREAMS_DATABASE_SSLCERT',
      '/tls/client.pem',
      (c) => c.database.sslCert,
      '/tls/client.pem',
      { PGWALSTREAMS_DATABASE_SSLMODE: 'require', PGWALSTREAMS_DATABASE_SSLKEY: '/tls/client.key' },
    ],
    [
      'PGWALSTREAMS_DATABASE_SSLKEY',
      '/tls/client.key',
      (c) => c.database.sslKey,
      '/tls/client.key',
      { PGWALSTREAMS_DATABASE_SSLMODE: 'require', PGWALSTREAMS_DATABASE_SSLCERT: '/tls/client.pem' },
    ],
    [
      'PGWALSTREAMS_DATABASE_FILTER_TABLES',
      '{"users": ["INSERT"], "public.orders": [delete]}',
      (c) => c.database.filter.tables,
      { users: ['insert'], 'public.orders': ['delete'] },
    ],
    [
      'PGWALSTREAMS_DATABASE_FILTER_MESSAGES',
      'outbox,audit',
      (c) => c.database.filter.messages,
      ['outbox', 'audit'],
    ],
    [
      'PGWALSTREAMS_NATS_ADDRESS',
      'nats://n1:4222,nats://n2:4222',
      (c) => c.nats.address,
      ['nats://n1:4222', 'nats://n2:4222'],
    ],
    ['PGWALSTREAMS_NATS_TOPICPREFIX', 'cdc.app', (c) => c.nats.topicPrefix, 'cdc.app'],
    ['PGWALSTREAMS_NATS_MAXINFLIGHT', '16', (c) => c.nats.maxInFlight, 16],
    ['PGWALSTREAMS_NATS_ACKTIMEOUT', '2500', (c) => c.nats.ackTimeout, 2500],
    ['PGWALSTREAMS_NATS_TRANSACTIONEVENTS', 'true', (c) => c.nats.transactionEvents, true],
    ['PGWALSTREAMS_NATS_HEADERS', 'lsn,position', (c) => c.nats.headers, ['lsn', 'position']],
    ['PGWALSTREAMS_NATS_STREAM_NAME', 'cdc', (c) => c.nats.stream?.name, 'cdc'],
    ['PGWALSTREAMS_NATS_STREAM_SUBJECTS', 'a.>,b.*.x', (c) => c.nats.stream?.subjects, ['a.>', 'b.*.x']],
    ['PGWALSTREAMS_NATS_STREAM_STORAGE', 'memory', (c) => c.nats.stream?.storage, 'memory'],
    ['PGWALSTREAMS_NATS_STREAM_DUPLICATEWINDOW', '5m', (c) => c.nats.stream?.duplicateWindow, 300_000],
    ['PGWALSTREAMS_NATS_STREAM_REPLICAS', '3', (c) => c.nats.stream?.replicas, 3],
    ['PGWALSTREAMS_NATS_TLS_CA', '/tls/ca.pem', (c) => c.nats.tls?.ca, '/tls/ca.pem'],
    [
      'PGWALSTREAMS_NATS_TLS_CERT',
      '/tls/c.pem',
      (c) => c.nats.tls?.cert,
      '/tls/c.pem',
      { PGWALSTREAMS_NATS_TLS_KEY: '/tls/c.key' },
    ],
    [
      'PGWALSTREAMS_NATS_TLS_KEY',
      '/tls/c.key',
      (c) => c.nats.tls?.key,
      '/tls/c.key',
      { PGWALSTREAMS_NATS_TLS_CERT: '/tls/c.pem' },
    ],
    ['PGWALSTREAMS_NATS_USER', 'svc', (c) => c.nats.user, 'svc', { PGWALSTREAMS_NATS_PASSWORD: 'pw' }],
    ['PGWALSTREAMS_NATS_PASSWORD', 'pw', (c) => c.nats.password, 'pw', { PGWALSTREAMS_NATS_USER: 'svc' }],
    [
      'PGWALSTREAMS_NATS_PASSWORDFILE',
      '/secrets/nats',
      (c) => c.nats.password,
      'content of /secrets/nats',
      { PGWALSTREAMS_NATS_USER: 'svc' },
    ],
    ['PGWALSTREAMS_NATS_TOKEN', 'tok', (c) => c.nats.token, 'tok'],
    ['PGWALSTREAMS_NATS_TOKENFILE', '/secrets/token', (c) => c.nats.token, 'content of /secrets/token'],
    ['PGWALSTREAMS_NATS_NKEYSEEDFILE', '/secrets/user.nk', (c) => c.nats.nkeySeedFile, '/secrets/user.nk'],
    ['PGWALSTREAMS_NATS_CREDSFILE', '/secrets/user.creds', (c) => c.nats.credsFile, '/secrets/user.creds'],
    ['PGWALSTREAMS_LOGGER_LEVEL', 'debug', (c) => c.logger.level, 'debug'],
    ['PGWALSTREAMS_LOGGER_FORMAT', 'pretty', (c) => c.logger.format, 'pretty'],
  ];
  // Every stream key but the one under test needs the section's required name.
  const file = `${MINIMAL}nats:\n  stream:\n    name: from-file\n`;
  const readFile = fakeFiles;

  it('has a case for every key derived from the schema', () => {
    assert.deepEqual(
      cases.map(([variable]) => variable),
      ENV_OVERRIDES.map((o) => o.variable),
    );
  });

  for (const [variable, text, read, expected, needs = {}] of cases) {
    it(`${variable} overrides the file`, () => {
      const before = read(parse(file, {}, readFile));
      assert.notDeepEqual(before, expected, 'the case must change the value');
      assert.deepEqual(read(parse(file, { ...needs, [variable]: text }, readFile)), expected);
    });
  }

  it('accepts YAML flow text for the filter', () => {
    const config = parse(MINIMAL, { PGWALSTREAMS_DATABASE_FILTER_TABLES: '{users: [insert, Update]}' });
    assert.deepEqual(config.database.filter.tables, { users: ['insert', 'update'] });
  });

  it('creates the stream section when a stream variable is set', () => {
    const config = parse(MINIMAL, { PGWALSTREAMS_NATS_STREAM_NAME: 'db' });
    assert.deepEqual(config.nats.stream?.subjects, ['db.>']);
  });

  it('ignores empty variables', () => {
    assert.equal(parse(MINIMAL, { PGWALSTREAMS_DATABASE_NAME: '' }).database.name, 'app');
  });

  it('reports a non-numeric number with the variable it came from', () => {
    const err = parseError(MINIMAL, { PGWALSTREAMS_DATABASE_PORT: 'abc' });
    assert.match(problemAt(err, 'database.port'), /expected a number.*\(from PGWALSTREAMS_DATABASE_PORT\)/);
  });

  it('reports filter text that is not YAML', () => {
    const err = parseError(MINIMAL, { PGWALSTREAMS_DATABASE_FILTER_TABLES: '{users: [' });
    assert.match(problemAt(err, 'PGWALSTREAMS_DATABASE_FILTER_TABLES'), /not valid JSON or YAML/);
  });

  it('reports an unknown variable of a section, with a suggestion', () => {
    const err = parseError(MINIMAL, {
      PGWALSTREAMS_LISTENER_SLOT_NAME: 'x',
      PGWALSTREAMS_CONFIG: 'other.yaml',
    });
    assert.match(
      problemAt(err, 'PGWALSTREAMS_LISTENER_SLOT_NAME'),
      /did you mean PGWALSTREAMS_LISTENER_SLOTNAME\?/,
    );
    assert.equal(err.problems.length, 1, 'variables outside the sections are left to other readers');
  });
});

describe('libpq fallbacks', () => {
  const pg = {
    PGHOST: 'pg-host',
    PGPORT: '6432',
    PGDATABASE: 'pg-db',
    PGUSER: 'pg-user',
    PGPASSWORD: 'pg-pass',
  };

  it('fill the database keys the file leaves unset', () => {
    const config = parse('', pg);
    assert.deepEqual(
      [
        config.database.host,
        config.database.port,
        config.database.name,
        config.database.user,
        config.database.password,
      ],
      ['pg-host', 6432, 'pg-db', 'pg-user', 'pg-pass'],
    );
  });

  it('lose to the file, which loses to PGWALSTREAMS_ variables', () => {
    const text =
      'database:\n  host: file-host\n  port: 5433\n  name: file-db\n  user: file-user\n  password: file-pass\n';
    const fromFile = parse(text, pg);
    assert.deepEqual(
      [fromFile.database.host, fromFile.database.port, fromFile.database.name, fromFile.database.password],
      ['file-host', 5433, 'file-db', 'file-pass'],
    );
    const fromEnv = parse(text, {
      ...pg,
      PGWALSTREAMS_DATABASE_HOST: 'env-host',
      PGWALSTREAMS_DATABASE_PORT: '5434',
    });
    assert.equal(fromEnv.database.host, 'env-host');
    assert.equal(fromEnv.database.port, 5434);
  });

  it('give way to the defaults only when unset', () => {
    const config = parse('', { PGDATABASE: 'd', PGUSER: 'u' });
    assert.equal(config.database.host, 'localhost');
    assert.equal(config.database.port, 5432);
  });

  it('do not supply PGPASSWORD when a password file is set', () => {
    const config = parse(`${MINIMAL}  passwordFile: /pw\n`, { PGPASSWORD: 'pg-pass' }, () => 'file-pass');
    assert.equal(config.database.password, 'file-pass');
  });

  it('name the variable when its value is invalid', () => {
    const err = parseError('', { ...pg, PGPORT: '70000' });
    assert.match(problemAt(err, 'database.port'), /70000 is too large.*\(from PGPORT\)/);
  });

  it('are named in the message when name and user are missing', () => {
    const err = parseError('');
    assert.match(
      problemAt(err, 'database.name'),
      /is required: set it in the file, PGWALSTREAMS_DATABASE_NAME or PGDATABASE/,
    );
    assert.match(problemAt(err, 'database.user'), /PGUSER/);
  });
});

describe('passwordFile', () => {
  it('reads the password from the file, less one trailing newline', () => {
    const reads: string[] = [];
    const config = parse(`${MINIMAL}  passwordFile: /run/secrets/pg\n`, {}, (path) => {
      reads.push(path);
      return 'p@ss word \n';
    });
    assert.deepEqual(reads, ['/run/secrets/pg']);
    assert.equal(config.database.password, 'p@ss word ');
    assert.equal(config.database.passwordFile, '/run/secrets/pg');
  });

  it('drops a CRLF line end too, and only one', () => {
    assert.equal(parse(`${MINIMAL}  passwordFile: /pw\n`, {}, () => 'pw\r\n').database.password, 'pw');
    assert.equal(parse(`${MINIMAL}  passwordFile: /pw\n`, {}, () => 'pw\n\n').database.password, 'pw\n');
  });

  it('cannot be combined with password', () => {
    const err = parseError(`${MINIMAL}  password: hunter2-secret\n  passwordFile: /pw\n`);
    assert.match(problemAt(err, 'database.passwordFile'), /cannot be used together with database\.password/);
  });

  it('reports a file that cannot be read, along with other problems', () => {
    const err = parseError(`${MINIMAL}  passwordFile: /missing\nlogger:\n  level: loud\n`, {}, () => {
      throw Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT' });
    });
    assert.match(problemAt(err, 'database.passwordFile'), /cannot read "\/missing" \(ENOENT\)/);
    assert.match(problemAt(err, 'logger.level'), /"loud" is not one of trace, debug/);
  });

  it('reports an empty file', () => {
    const err = parseError(`${MINIMAL}  passwordFile: /pw\n`, {}, () => '\n');
    assert.match(problemAt(err, 'database.passwordFile'), /is empty/);
  });
});

describe('validation', () => {
  it('reports every problem of a file at once, each with its path', () => {
    const err = parseError(
      [
        'listener:',
        '  slotName: My-Slot',
        '  serverPort: 70000',
        'database:',
        '  port: "5432"',
        '  filter:',
        '    tables:',
        '      users: [insert, upsert]',
        'nats:',
        '  maxInFlight: 0',
        '  stream:',
        '    name: a.b',
        '    storage: disk',
        'logger:',
        '  format: text',
        '',
      ].join('\n'),
    );
    assert.deepEqual(err.problems.map((p) => p.path).sort(), [
      'database.filter.tables.users[1]',
      'database.name',
      'database.port',
      'database.user',
      'listener.serverPort',
      'listener.slotName',
      'logger.format',
      'nats.maxInFlight',
      'nats.stream.name',
      'nats.stream.storage',
    ]);
    assert.match(
      problemAt(err, 'listener.slotName'),
      /"My-Slot" is not a valid slot name: use 1 to 63 lower-case/,
    );
    assert.match(problemAt(err, 'database.port'), /expected a number, got a string/);
    assert.match(problemAt(err, 'nats.maxInFlight'), /0 is too small: use a whole number from 1 to 65536/);
    assert.match(err.message, /^invalid configuration in test\.yaml\n {2}- /);
  });

  it('names an unknown key and suggests the known key it is close to', () => {
    const err = parseError(`${MINIMAL}listener:\n  slot_name: x\n  publicaton: p\nnats:\n  topic: db\n`);
    assert.match(problemAt(err, 'listener.slot_name'), /unknown key "slot_name": did you mean slotName\?/);
    assert.match(problemAt(err, 'listener.publicaton'), /did you mean publication\?/);
    assert.match(
      problemAt(err, 'nats.topic'),
      /unknown key "topic": remove it or use one of address, topicPrefix/,
    );
  });

  it('rejects an unknown section', () => {
    const err = parseError(`${MINIMAL}publisher:\n  type: nats\n`);
    assert.match(
      problemAt(err, 'publisher'),
      /unknown key "publisher": remove it or use one of listener, backfill, database, nats, logger/,
    );
  });

  it('names a bad snapshot mode and the modes there are', () => {
    for (const mode of ['always', 'Initial', 'full']) {
      const err = parseError(`${MINIMAL}listener:\n  snapshot: ${mode}\n`);
      assert.equal(
        problemAt(err, 'listener.snapshot'),
        `"${mode}" is not one of never, initial: pick one of them`,
      );
    }
    const fromEnv = parseError(MINIMAL, { PGWALSTREAMS_LISTENER_SNAPSHOT: 'full' });
    assert.equal(
      problemAt(fromEnv, 'listener.snapshot'),
      '"full" is not one of never, initial: pick one of them (from PGWALSTREAMS_LISTENER_SNAPSHOT)',
    );
  });

  it('nats.headers: none by default, any of lsn, xid and position, and names a bad one', () => {
    assert.deepEqual(parse(`${MINIMAL}nats:\n  headers: [lsn, position]\n`).nats.headers, [
      'lsn',
      'position',
    ]);
    const err = parseError(`${MINIMAL}nats:\n  headers: [lsn, subject]\n`);
    assert.equal(
      problemAt(err, 'nats.headers[1]'),
      '"subject" is not one of lsn, xid, position: pick one of them',
    );
  });

  it('names a bad backfill bucket and what a bucket name may hold', () => {
    for (const bucket of ['a.b', 'has space', '', 'kv/*']) {
      const err = parseError(`${MINIMAL}backfill:\n  bucket: ${JSON.stringify(bucket)}\n`);
      assert.equal(
        problemAt(err, 'backfill.bucket'),
        `${JSON.stringify(bucket)} is not a valid bucket name: use 1 to 64 letters, digits, "-" or "_"`,
      );
    }
    // 65 characters: one too many (and quoted by its first 64, as every long value is).
    const tooLong = parseError(`${MINIMAL}backfill:\n  bucket: ${'x'.repeat(65)}\n`);
    assert.equal(
      problemAt(tooLong, 'backfill.bucket'),
      `"${'x'.repeat(64)}"… (65 bytes) is not a valid bucket name: use 1 to 64 letters, digits, "-" or "_"`,
    );
    assert.equal(parse(`${MINIMAL}backfill:\n  bucket: ${'x'.repeat(64)}\n`).backfill.bucket, 'x'.repeat(64));
  });

  it("checks the backfill chunk settings and knows the section's keys", () => {
    const err = parseError(
      `${MINIMAL}backfill:\n  replicas: 7\n  chunkTime: 0\n  maxChunkRows: 1000001\n  buckets: x\n`,
    );
    assert.match(problemAt(err, 'backfill.replicas'), /7 is too large: use a whole number from 1 to 5/);
    assert.match(problemAt(err, 'backfill.chunkTime'), /is out of range: use a duration from 1ms/);
    assert.match(
      problemAt(err, 'backfill.maxChunkRows'),
      /1000001 is too large: use a whole number from 1 to 1000000/,
    );
    assert.match(problemAt(err, 'backfill.buckets'), /unknown key "buckets": did you mean bucket\?/);
  });

  it('normalises actions to lower case and drops repeats', () => {
    const config = parse(`${MINIMAL}  filter:\n    tables:\n      users: [INSERT, Update, insert]\n`);
    assert.deepEqual(config.database.filter.tables, { users: ['insert', 'update'] });
  });

  it('rejects a bad action with its index', () => {
    const err = parseError(`${MINIMAL}  filter:\n    tables:\n      public.users: [insert, upsert]\n`);
    assert.equal(
      problemAt(err, 'database.filter.tables["public.users"][1]'),
      '"upsert" is not an action: use insert, update, delete or truncate',
    );
  });

  it('rejects an empty action list', () => {
    const err = parseError(`${MINIMAL}  filter:\n    tables:\n      users: []\n`);
    assert.match(
      problemAt(err, 'database.filter.tables.users'),
      /list at least one action or remove the key/,
    );
  });

  it('rejects a table key with too many dots or a wildcard', () => {
    const err = parseError(
      `${MINIMAL}  filter:\n    tables:\n      a.b.c: [insert]\n      "public.*": [insert]\n`,
    );
    assert.match(problemAt(err, 'database.filter.tables["a.b.c"]'), /write "table" or "schema.table"/);
    assert.match(problemAt(err, 'database.filter.tables["public.*"]'), /no wildcards/);
  });

  for (const prefix of ['db.*', 'db..x', 'db x', '>', '', '.db', 'db.', 'd>b']) {
    it(`rejects the topic prefix ${JSON.stringify(prefix)}`, () => {
      const err = parseError(`${MINIMAL}nats:\n  topicPrefix: ${JSON.stringify(prefix)}\n`);
      assert.equal(
        problemAt(err, 'nats.topicPrefix'),
        `${JSON.stringify(prefix)} is not a valid subject prefix: use dot-separated tokens without spaces, "*" or ">"`,
      );
    });
  }

  it('accepts topic prefixes of printable ASCII tokens', () => {
    for (const prefix of ['db', 'app.cdc', 'a-b_c.$x', 'Env1.DB']) {
      assert.equal(
        parse(`${MINIMAL}nats:\n  topicPrefix: ${JSON.stringify(prefix)}\n`).nats.topicPrefix,
        prefix,
      );
    }
  });

  it('checks stream subjects', () => {
    const err = parseError(
      `${MINIMAL}nats:\n  stream:\n    name: db\n    subjects: ['db.>', 'db.>.x', 'a b']\n`,
    );
    assert.match(problemAt(err, 'nats.stream.subjects[1]'), /"db.>.x" is not a valid subject/);
    assert.match(problemAt(err, 'nats.stream.subjects[2]'), /"a b" is not a valid subject/);
    assert.equal(err.problems.length, 2);
  });

  it('asks to quote a number where a string is expected', () => {
    const err = parseError(`${MINIMAL}listener:\n  publication: 123\n`);
    assert.match(
      problemAt(err, 'listener.publication'),
      /expected a string, got a number: put the value in quotes/,
    );
  });

  it('rejects a file that is not a mapping', () => {
    const err = parseError('- listener\n');
    assert.match(problemAt(err, ''), /expected a mapping with the sections/);
  });

  it('reports YAML syntax errors with file, line and column', () => {
    const err = parseError('database:\n  name: app\n  user: "postgres\n');
    assert.match(err.message, /^cannot parse test\.yaml as YAML/);
    assert.match(err.problems[0]?.path ?? '', /^test\.yaml:\d+:\d+$/);
    assert.match(err.problems[0]?.message ?? '', /quote/);
  });

  it('reports a duplicate key at its line and column', () => {
    const err = parseError('database:\n  name: app\n  name: other\n');
    assert.deepEqual(
      err.problems.map((p) => p.path),
      ['test.yaml:3:3'],
    );
  });

  it('reports an alias without its anchor at its line', () => {
    const err = parseError('database:\n  name: app\n  user: *nobody\n');
    assert.equal(err.problems[0]?.path, 'test.yaml:3:9');
  });
});

describe('long values', () => {
  const MB = 1024 * 1024;

  /** Asserts that `text` quotes `value` only by its start and its size. */
  function assertCut(text: string, value: string): void {
    assert.ok(text.length < 400, `a message of ${text.length} characters: ${text.slice(0, 400)}`);
    assert.ok(
      text.includes(`${JSON.stringify(value.slice(0, 64))}… (${Buffer.byteLength(value)} bytes)`),
      text,
    );
  }

  it('are quoted by their first 64 characters and their size in bytes', () => {
    const value = 'a'.repeat(MB);
    const err = parseError(`${MINIMAL}listener:\n  slotName: ${value}\n`);
    const message = problemAt(err, 'listener.slotName');
    assertCut(message, value);
    assert.match(message, /"… \(1048576 bytes\) is not a valid slot name: use 1 to 63/);
    assert.ok(err.message.length < 400, err.message.slice(0, 400));
  });

  it('count their size in UTF-8 bytes and never cut a character in two', () => {
    const value = `${'a'.repeat(63)}😀${'é'.repeat(100)}`;
    const message = problemAt(
      parseError(`${MINIMAL}nats:\n  topicPrefix: "${value} x"\n`),
      'nats.topicPrefix',
    );
    assert.ok(
      message.startsWith(`"${'a'.repeat(63)}"… (${Buffer.byteLength(`${value} x`)} bytes) is not`),
      message,
    );
  });

  it('stay quoted whole up to 64 characters', () => {
    const value = `${'a'.repeat(62)} b`;
    assert.equal(
      problemAt(parseError(`${MINIMAL}nats:\n  topicPrefix: "${value}"\n`), 'nats.topicPrefix'),
      `"${value}" is not a valid subject prefix: use dot-separated tokens without spaces, "*" or ">"`,
    );
  });

  it('are cut in every message that quotes a value, a key or a file name', () => {
    const long = 'x'.repeat(10_000);
    // Keys this long are written as explicit YAML keys (`? key`), which stringify does.
    const text = stringifyYaml({
      database: {
        name: 'app',
        user: 'postgres',
        sslMode: long,
        passwordFile: `/${long}`,
        filter: { tables: { [`a.b.${long}`]: ['insert'], users: [long] } },
      },
      listener: { publication: 'é'.repeat(100), shutdownTimeout: long, retainedWalWarning: long },
      nats: {
        address: `${long} x`,
        [long]: 1,
        stream: { name: `${long}.`, subjects: [`${long} `] },
      },
      logger: { level: Array<string>(1000).fill('info'), format: long },
    });
    const err = parseError(text, {}, (path) => {
      throw Object.assign(new Error(`cannot read ${path}`), { code: 'ENAMETOOLONG' });
    });
    assert.equal(err.problems.length, 13, err.message.slice(0, 3000));
    for (const p of err.problems) {
      assert.ok(p.path.length + p.message.length < 400, `${p.path}: ${p.message}`.slice(0, 400));
      assert.match(`${p.path} ${p.message}`, /… \(\d+ bytes\)/, p.path);
    }
    assert.match(problemAt(err, 'logger.level'), /^\["info","info",.*… \(7001 bytes\) is not one of/);
  });

  it('from an environment variable are cut too, naming the variable', () => {
    const value = 'b'.repeat(100_000);
    const message = problemAt(parseError(MINIMAL, { PGWALSTREAMS_LOGGER_LEVEL: value }), 'logger.level');
    assertCut(message, value);
    assert.match(message, /is not one of trace, .*\(from PGWALSTREAMS_LOGGER_LEVEL\)$/);
  });

  it('never show the start of a secret where the cut falls inside it', () => {
    const password = `Tr0ub4dor&3-${'h'.repeat(100)}`;
    for (const user of ['u', 'u'.repeat(40), 'u'.repeat(60)]) {
      const err = parseError(
        `${MINIMAL}  password: ${password}\nnats:\n  address: "http://${user}:${password}@host"\n`,
      );
      const message = problemAt(err, 'nats.address');
      assert.ok(!message.includes('Tr0ub'), message);
      assert.match(message, /^"http:\/\/u+(:\[redacted\])?"… \(\d+ bytes\) is not a NATS server address/);
    }
  });
});

describe('numbers that are not finite', () => {
  /** Every problem of `err`, as path → message. */
  const byPath = (err: ConfigError) => Object.fromEntries(err.problems.map((p) => [p.path, p.message]));

  it('are named as such, with the range to use, for whole numbers', () => {
    const err = parseError(
      `${MINIMAL}  port: .inf\nlistener:\n  serverPort: .nan\nnats:\n  maxInFlight: -.inf\n  stream:\n    name: s\n    replicas: .NaN\n`,
    );
    assert.deepEqual(byPath(err), {
      'database.port': 'Infinity is not a finite number: use a whole number from 1 to 65535',
      'listener.serverPort':
        'NaN is not a finite number: use a whole number from 0 to 65535 (0 turns the server off)',
      'nats.maxInFlight': '-Infinity is not a finite number: use a whole number from 1 to 65536',
      'nats.stream.replicas': 'NaN is not a finite number: use a whole number from 1 to 5',
    });
  });

  it('are named as such for durations and sizes', () => {
    const err = parseError(`${MINIMAL}listener:\n  shutdownTimeout: .inf\n  retainedWalWarning: .nan\n`);
    assert.deepEqual(byPath(err), {
      'listener.shutdownTimeout':
        'Infinity is not a finite number: write it like 500ms, 10s, 2m, 1h or 1m30s, or a number of milliseconds',
      'listener.retainedWalWarning':
        'NaN is not a finite number: write it like 512MB or 1GB, or a number of bytes',
    });
  });

  it('are named as such from a variable (NaN, Infinity, -Infinity), with the variable', () => {
    const err = parseError(MINIMAL, {
      PGWALSTREAMS_DATABASE_PORT: 'NaN',
      PGWALSTREAMS_NATS_MAXINFLIGHT: 'Infinity',
      PGWALSTREAMS_LISTENER_SERVERPORT: '-Infinity',
    });
    assert.deepEqual(byPath(err), {
      'database.port':
        'NaN is not a finite number: use a whole number from 1 to 65535 (from PGWALSTREAMS_DATABASE_PORT)',
      'nats.maxInFlight':
        'Infinity is not a finite number: use a whole number from 1 to 65536 (from PGWALSTREAMS_NATS_MAXINFLIGHT)',
      'listener.serverPort':
        '-Infinity is not a finite number: use a whole number from 0 to 65535 (0 turns the server off) (from PGWALSTREAMS_LISTENER_SERVERPORT)',
    });
  });
});

describe('durations', () => {
  it('parse text and milliseconds', () => {
    const cases: [unknown, number | undefined][] = [
      ['500ms', 500],
      ['10s', 10_000],
      ['2m', 120_000],
      ['1h', 3_600_000],
      ['1m30s', 90_000],
      ['1h2m3s4ms', 3_723_004],
      ['1.5s', 1500],
      [250, 250],
      ['250', 250],
      [' 3s ', 3000],
      ['10 s', undefined],
      ['1d', undefined],
      ['s', undefined],
      ['', undefined],
      ['-1s', undefined],
      [true, undefined],
      [Number.NaN, undefined],
    ];
    for (const [input, expected] of cases) {
      assert.equal(parseDuration(input), expected, `parseDuration(${JSON.stringify(input)})`);
    }
  });

  it('are converted to milliseconds in the configuration', () => {
    const config = parse(`${MINIMAL}listener:\n  shutdownTimeout: 1m30s\nnats:\n  ackTimeout: 750\n`);
    assert.equal(config.listener.shutdownTimeout, 90_000);
    assert.equal(parse(`${MINIMAL}listener:\n  heartbeatInterval: 0\n`).listener.heartbeatInterval, 0);
    assert.throws(() => parse(`${MINIMAL}listener:\n  shutdownTimeout: 0\n`), /out of range/);
    assert.equal(
      parse(`${MINIMAL}listener:\n  retainedWalWarning: 1.5GB\n`).listener.retainedWalWarning,
      1.5 * 1024 ** 3,
    );
    assert.throws(() => parse(`${MINIMAL}listener:\n  retainedWalWarning: lots\n`), /not a size/);
    assert.equal(config.nats.ackTimeout, 750);
  });

  it('reject text that is not a duration, zero and values beyond the timer limit', () => {
    const err = parseError(
      `${MINIMAL}listener:\n  shutdownTimeout: 30 seconds\nnats:\n  ackTimeout: 0\n  stream:\n    name: s\n    duplicateWindow: 30d\n`,
    );
    assert.match(
      problemAt(err, 'listener.shutdownTimeout'),
      /"30 seconds" is not a duration: write it like 500ms/,
    );
    assert.match(problemAt(err, 'nats.ackTimeout'), /0 is out of range/);
    assert.match(problemAt(err, 'nats.stream.duplicateWindow'), /"30d" is not a duration/);
    assert.match(parseError(`${MINIMAL}nats:\n  ackTimeout: 600h\n`).message, /"600h" is out of range/);
  });
});

describe('secrets', () => {
  const password = 'Tr0ub4dor&3-horse';

  /** Asserts that neither the message nor any problem contains the password. */
  function assertHidden(err: ConfigError): void {
    assert.ok(!err.message.includes(password), `the password leaked:\n${err.message}`);
    for (const p of err.problems) {
      assert.ok(
        !p.path.includes(password) && !p.message.includes(password),
        `the password leaked in ${p.path}`,
      );
    }
  }

  it('never appear when the password is written where another value belongs', () => {
    const err = parseError(
      [
        'listener:',
        `  slotName: ${password}`,
        'database:',
        '  name: app',
        '  user: postgres',
        `  password: ${password}`,
        `  port: ${password}`,
        'nats:',
        `  topicPrefix: "${password}.*"`,
        `  ${password}: 1`,
        'logger:',
        `  level: ${password}`,
        '',
      ].join('\n'),
    );
    assertHidden(err);
    // The problems are still reported, with the value replaced.
    assert.match(problemAt(err, 'listener.slotName'), /^"\[redacted\]" is not a valid slot name/);
    assert.match(problemAt(err, 'nats.topicPrefix'), /^"\[redacted\]\.\*" is not a valid subject prefix/);
    assert.match(problemAt(err, 'logger.level'), /\[redacted\]/);
    assert.ok(err.problems.some((p) => p.path === 'nats["[redacted]"]'));
    assert.match(problemAt(err, 'database.port'), /expected a number, got a string/);
  });

  it('never appear from a password file, PGPASSWORD or PGWALSTREAMS_DATABASE_PASSWORD', () => {
    const viaFile = parseError(
      `${MINIMAL}  passwordFile: /pw\nnats:\n  topicPrefix: "${password}.*"\n`,
      {},
      () => `${password}\n`,
    );
    assertHidden(viaFile);
    for (const variable of ['PGPASSWORD', 'PGWALSTREAMS_DATABASE_PASSWORD']) {
      const err = parseError(`${MINIMAL}listener:\n  slotName: ${password}\n`, { [variable]: password });
      assertHidden(err);
      assert.match(problemAt(err, 'listener.slotName'), /not a valid slot name/);
    }
  });

  it('never appear with a JSON-escaped password', () => {
    const quoted = 'pa"ss\\word-x';
    const err = parseError(`${MINIMAL}  password: 'pa"ss\\word-x'\nnats:\n  topicPrefix: 'pa"ss\\word-x*'\n`);
    assert.ok(
      !err.message.includes(quoted) && !err.message.includes(JSON.stringify(quoted).slice(1, -1)),
      err.message,
    );
  });

  it('never appear in YAML syntax errors, which quote no source text', () => {
    const err = parseError(`database:\n  name: app\n  password: ${password}: x\n`);
    assertHidden(err);
    assert.equal(err.problems[0]?.path, 'test.yaml:3:13');
  });

  it('never appear when the password has the wrong type', () => {
    const err = parseError(`${MINIMAL}  password: [${password}]\n`);
    assertHidden(err);
    assert.match(problemAt(err, 'database.password'), /expected a string, got a list/);
  });

  it('are hidden by redactConfig without changing the original', () => {
    const config = parse(
      `${MINIMAL}  password: ${password}\nnats:\n  address: nats://u:${password}@n1:4222,nats://n2:4222\n`,
    );
    const redacted = redactConfig(config);
    assert.equal(redacted.database.password, '[redacted]');
    assert.ok(!JSON.stringify(redacted).includes(password));
    assert.deepEqual(redacted.nats.address, ['nats://u:redacted@n1:4222', 'nats://n2:4222']);
    assert.equal(config.database.password, password);
  });
});

describe('reload', () => {
  const base = parse(
    `${MINIMAL}  filter:\n    tables:\n      users: [insert]\nnats:\n  stream:\n    name: db\n`,
  );

  it('splitReloadable puts the filter, routing and log level apart from the rest', () => {
    const { reloadable, static: fixed } = splitReloadable(base);
    assert.deepEqual(reloadable, {
      filter: { tables: { users: ['insert'] } },
      topicPrefix: 'db',
      transactionEvents: false,
      logLevel: 'info',
    });
    assert.ok(!('filter' in fixed.database));
    assert.ok(!('topicPrefix' in fixed.nats));
    assert.ok(!('level' in fixed.logger));
    assert.equal(fixed.database.port, 5432);
  });

  it('describeStaticChanges ignores filter, routing and log level changes', () => {
    const next = parse(
      `${MINIMAL}  filter:\n    tables:\n      orders: [delete]\nnats:\n  transactionEvents: true\n  stream:\n    name: db\n    subjects: ['db.>']\n` +
        `logger:\n  level: debug\n`,
    );
    assert.deepEqual(describeStaticChanges(base, next), []);
  });

  it('describeStaticChanges lists the static keys that differ', () => {
    const next = parse(
      `${MINIMAL}  port: 6543\nnats:\n  topicPrefix: cdc\n  address: nats://a:1,nats://b:2\n  stream:\n    name: db\n    replicas: 3\n`,
    );
    // topicPrefix itself reloads, but the stream subjects derived from it are static.
    assert.deepEqual(describeStaticChanges(base, next), [
      'database.port',
      'nats.address',
      'nats.stream.subjects',
      'nats.stream.replicas',
    ]);
    assert.deepEqual(describeStaticChanges(base, parse(MINIMAL)), ['nats.stream']);
  });

  it('reloadProblems refuses a topic prefix outside the subjects of the stream pgwalstreams manages', () => {
    const problems = reloadProblems(
      base,
      parse(`${MINIMAL}nats:\n  topicPrefix: app\n  stream:\n    name: db\n`),
    );
    assert.deepEqual(problems, [
      {
        path: 'nats.topicPrefix',
        message:
          'cannot change to "app" while pgwalstreams manages stream db, whose subjects (db.>) do not take in "app.>": ' +
          "update the stream's subjects and restart pgwalstreams with the new prefix, or remove nats.stream to stop managing the stream",
      },
    ]);
  });

  it('reloadProblems lets the prefix change without a managed stream, or within its subjects', () => {
    const prefix = (p: string, stream = '  stream:\n    name: db\n') =>
      parse(`${MINIMAL}nats:\n  topicPrefix: ${p}\n${stream}`);
    assert.deepEqual(reloadProblems(parse(MINIMAL), prefix('app', '')), []);
    assert.deepEqual(reloadProblems(base, prefix('db.v2')), [], 'db.> takes in db.v2.>');
    assert.deepEqual(reloadProblems(base, prefix('db')), []);
    const wide = parse(`${MINIMAL}nats:\n  stream:\n    name: db\n    subjects: ['db.>', '*.cdc.>']\n`);
    assert.deepEqual(reloadProblems(wide, prefix('app.cdc')), []);
    assert.equal(reloadProblems(wide, prefix('app')).length, 1, '*.cdc.> does not take in app.>');
    assert.equal(reloadProblems(wide, prefix('dbx')).length, 1);
    const narrow = parse(`${MINIMAL}nats:\n  stream:\n    name: db\n    subjects: ['db.public.>']\n`);
    assert.equal(reloadProblems(narrow, prefix('db.public')).length, 0);
    assert.deepEqual(reloadProblems(narrow, prefix('db')), [], 'the prefix in force is never refused');
    assert.equal(reloadProblems(narrow, prefix('db.other')).length, 1);
  });
});

describe('database TLS', () => {
  it('accepts each sslMode, and defaults to disable', () => {
    assert.equal(parse(MINIMAL).database.sslMode, 'disable');
    for (const mode of ['disable', 'require', 'verify-ca', 'verify-full']) {
      assert.equal(parse(`${MINIMAL}  sslMode: ${mode}\n`).database.sslMode, mode);
    }
  });

  it('refuses allow and prefer, which may fall back to no encryption', () => {
    for (const mode of ['allow', 'prefer']) {
      const err = parseError(`${MINIMAL}  sslMode: ${mode}\n`);
      assert.match(problemAt(err, 'database.sslMode'), /may fall back to no encryption/);
    }
    assert.match(
      problemAt(parseError(`${MINIMAL}  sslMode: verify\n`), 'database.sslMode'),
      /"verify" is not one of disable, require, verify-ca, verify-full/,
    );
  });

  it('reads the certificate files and keeps their paths', () => {
    const reads: string[] = [];
    const config = parse(
      `${MINIMAL}  sslMode: verify-full\n  sslRootCert: /tls/ca.pem\n  sslCert: /tls/c.pem\n  sslKey: /tls/c.key\n`,
      {},
      (path) => {
        reads.push(path);
        return fakeFiles(path);
      },
    );
    assert.deepEqual(reads, ['/tls/ca.pem', '/tls/c.pem', '/tls/c.key']);
    assert.equal(config.database.sslRootCert, '/tls/ca.pem');
  });

  it('wants sslCert and sslKey together, and TLS for them', () => {
    const err = parseError(`${MINIMAL}  sslCert: /tls/c.pem\n`, {}, fakeFiles);
    assert.match(err.message, /- database\.sslCert: needs database\.sslKey as well/);
    assert.match(err.message, /- database\.sslCert: needs TLS: set database\.sslMode/);
    const keyOnly = parseError(`${MINIMAL}  sslMode: require\n  sslKey: /tls/c.key\n`, {}, fakeFiles);
    assert.match(problemAt(keyOnly, 'database.sslKey'), /needs database\.sslCert as well/);
  });

  it('uses sslRootCert only with a mode that verifies', () => {
    for (const mode of ['disable', 'require']) {
      const err = parseError(`${MINIMAL}  sslMode: ${mode}\n  sslRootCert: /tls/ca.pem\n`, {}, fakeFiles);
      assert.match(problemAt(err, 'database.sslRootCert'), /set database\.sslMode to verify-full/);
    }
  });

  it('reports a missing or wrong file under its key, with the other problems', () => {
    const err = parseError(
      `${MINIMAL}  sslMode: verify-full\n  sslRootCert: /tls/missing.pem\n  sslCert: /tls/c.txt\n  sslKey: /tls/k.pem\n  port: 0\n`,
      {},
      (path) => {
        if (path.includes('missing')) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
        return fakeFiles(path);
      },
    );
    assert.equal(
      problemAt(err, 'database.sslRootCert'),
      'cannot read "/tls/missing.pem" (ENOENT): check the path and its permissions',
    );
    assert.match(problemAt(err, 'database.sslCert'), /"\/tls\/c.txt" holds no PEM certificate/);
    assert.match(problemAt(err, 'database.sslKey'), /"\/tls\/k.pem" holds no PEM private key/);
    assert.match(problemAt(err, 'database.port'), /too small/);
  });

  it('takes PGSSLMODE, PGSSLROOTCERT, PGSSLCERT and PGSSLKEY when the file leaves them unset', () => {
    const env = {
      PGSSLMODE: 'verify-ca',
      PGSSLROOTCERT: '/libpq/ca.pem',
      PGSSLCERT: '/libpq/c.pem',
      PGSSLKEY: '/libpq/c.key',
    };
    const db = parse(MINIMAL, env, fakeFiles).database;
    assert.deepEqual(
      [db.sslMode, db.sslRootCert, db.sslCert, db.sslKey],
      ['verify-ca', '/libpq/ca.pem', '/libpq/c.pem', '/libpq/c.key'],
    );
    const fromFile = parse(`${MINIMAL}  sslMode: verify-full\n`, env, fakeFiles).database;
    assert.equal(fromFile.sslMode, 'verify-full');
    const fromOverride = parse(MINIMAL, { ...env, PGWALSTREAMS_DATABASE_SSLMODE: 'verify-full' }, fakeFiles);
    assert.equal(fromOverride.database.sslMode, 'verify-full');
  });

  it('names PGSSLMODE when its value is refused', () => {
    const err = parseError(MINIMAL, { PGSSLMODE: 'prefer' });
    assert.match(problemAt(err, 'database.sslMode'), /fall back to no encryption.*\(from PGSSLMODE\)/);
  });
});

describe('NATS TLS and authentication', () => {
  it('reads the TLS files; an empty tls section is kept', () => {
    const reads: string[] = [];
    const config = parse(
      `${MINIMAL}nats:\n  tls:\n    ca: /n/ca.pem\n    cert: /n/c.pem\n    key: /n/c.key\n`,
      {},
      (path) => {
        reads.push(path);
        return fakeFiles(path);
      },
    );
    assert.deepEqual(config.nats.tls, { ca: '/n/ca.pem', cert: '/n/c.pem', key: '/n/c.key' });
    assert.deepEqual(reads, ['/n/ca.pem', '/n/c.pem', '/n/c.key']);
    assert.deepEqual(parse(`${MINIMAL}nats:\n  tls: {}\n`).nats.tls, {});
  });

  it('wants tls.cert and tls.key together, and no unknown tls keys', () => {
    const err = parseError(`${MINIMAL}nats:\n  tls:\n    cert: /n/c.pem\n    verify: true\n`, {}, fakeFiles);
    assert.match(problemAt(err, 'nats.tls.cert'), /needs nats\.tls\.key as well/);
    assert.match(problemAt(err, 'nats.tls.verify'), /unknown key "verify"/);
  });

  it('reads passwordFile and tokenFile into password and token', () => {
    const files = (path: string) => (path === '/pw' ? 'nats-pass\n' : 'nats-token\n');
    const user = parse(`${MINIMAL}nats:\n  user: svc\n  passwordFile: /pw\n`, {}, files).nats;
    assert.deepEqual([user.user, user.password, user.passwordFile], ['svc', 'nats-pass', '/pw']);
    assert.equal(parse(`${MINIMAL}nats:\n  tokenFile: /tok\n`, {}, files).nats.token, 'nats-token');
  });

  it('wants a user with a password and a password with a user', () => {
    assert.match(
      problemAt(parseError(`${MINIMAL}nats:\n  user: svc\n`), 'nats.user'),
      /needs nats\.password or nats\.passwordFile/,
    );
    assert.match(
      problemAt(parseError(`${MINIMAL}nats:\n  password: pw\n`), 'nats.password'),
      /needs nats\.user/,
    );
  });

  it('accepts one authentication method at most', () => {
    const err = parseError(
      `${MINIMAL}nats:\n  user: svc\n  password: pass-word\n  token: to-ken\n  nkeySeedFile: /u.nk\n  credsFile: /u.creds\n`,
      {},
      fakeFiles,
    );
    for (const key of ['token', 'nkeySeedFile', 'credsFile']) {
      assert.match(
        problemAt(err, `nats.${key}`),
        /cannot be used together with nats\.user: configure one way to authenticate/,
      );
    }
    const both = parseError(`${MINIMAL}nats:\n  token: to-ken\n  tokenFile: /tok\n`);
    assert.match(problemAt(both, 'nats.tokenFile'), /cannot be used together with nats\.token/);
  });

  it('checks what the nkey seed and creds files hold', () => {
    const notASeed = () => 'not a seed\n';
    const seed = parseError(`${MINIMAL}nats:\n  nkeySeedFile: /u.nk\n`, {}, notASeed);
    assert.match(problemAt(seed, 'nats.nkeySeedFile'), /"\/u.nk" holds no user nkey seed/);
    const creds = parseError(`${MINIMAL}nats:\n  credsFile: /u.creds\n`, {}, notASeed);
    assert.match(problemAt(creds, 'nats.credsFile'), /"\/u.creds" is not a NATS credentials file/);
  });
});

describe('NATS secrets', () => {
  const secret = 'n4ts-S3cret-value';

  function assertAbsent(text: string, ...values: string[]): void {
    for (const value of values) assert.ok(!text.includes(value), `a secret leaked:\n${text}`);
  }

  it('never appear in errors, from the file, a variable or a secret file', () => {
    const misplaced = `listener:\n  slotName: ${secret}\n  publication: "${SEED}${CREDS_SEED}"\n`;
    const inFile = parseError(`${MINIMAL}${misplaced}nats:\n  user: u\n  password: ${secret}\n`);
    assertAbsent(inFile.message, secret);
    assert.match(problemAt(inFile, 'listener.slotName'), /^"\[redacted\]" is not a valid slot name/);
    const fromEnv = parseError(`${MINIMAL}${misplaced}`, { PGWALSTREAMS_NATS_TOKEN: secret });
    assertAbsent(fromEnv.message, secret);
    const fromFiles = parseError(`${MINIMAL}${misplaced}nats:\n  tokenFile: /tok\n`, {}, (path) =>
      path === '/tok' ? `${secret}\n` : fakeFiles(path),
    );
    assertAbsent(fromFiles.message, secret);
    const seeds = parseError(`${MINIMAL}${misplaced}nats:\n  nkeySeedFile: /u.nk\n`, {}, fakeFiles);
    assertAbsent(seeds.message, SEED);
    const creds = parseError(`${MINIMAL}${misplaced}nats:\n  credsFile: /u.creds\n`, {}, fakeFiles);
    assertAbsent(creds.message, CREDS_SEED);
  });

  it('are hidden by redactConfig: password, token and a token in an address', () => {
    const withPassword = parse(`${MINIMAL}nats:\n  user: svc\n  password: ${secret}\n`);
    assert.equal(redactConfig(withPassword).nats.password, '[redacted]');
    assert.equal(redactConfig(withPassword).nats.user, 'svc');
    const withToken = parse(`${MINIMAL}nats:\n  token: ${secret}\n  address: nats://${secret}@n1:4222\n`);
    const redacted = redactConfig(withToken);
    assertAbsent(JSON.stringify(redacted), secret);
    assert.deepEqual(redacted.nats.address, ['nats://redacted@n1:4222']);
    assert.equal(withToken.nats.token, secret);
  });
});

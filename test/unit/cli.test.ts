import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { parseCommand, USAGE, type Command } from '../../src/cli.js';
import { runCommand } from '../../src/commands/dispatch.js';

/** Runs a command line (not `run`) and returns its exit status and output. */
async function cli(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const command = parseCommand(argv, env);
  assert.notEqual(command.kind, 'run');
  let stdout = '';
  let stderr = '';
  const status = await runCommand(command as Exclude<Command, { kind: 'run' }>, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { status, stdout, stderr };
}

describe('parseCommand', () => {
  const cases: [string[], NodeJS.ProcessEnv, Command][] = [
    [[], {}, { kind: 'run', config: 'config.yml' }],
    [[], { PGWALSTREAMS_CONFIG: 'env.yml' }, { kind: 'run', config: 'env.yml' }],
    [['--config', 'a.yml'], {}, { kind: 'run', config: 'a.yml' }],
    [['-c', 'a.yml'], { PGWALSTREAMS_CONFIG: 'env.yml' }, { kind: 'run', config: 'a.yml' }],
    [['run', '--config', 'a.yml'], {}, { kind: 'run', config: 'a.yml' }],
    [['run'], { PGWALSTREAMS_CONFIG: 'env.yml' }, { kind: 'run', config: 'env.yml' }],
    [['config', 'check', 'a.yml'], {}, { kind: 'config-check', config: 'a.yml' }],
    [['config', 'check', '-c', 'a.yml'], {}, { kind: 'config-check', config: 'a.yml' }],
    [['config', 'check'], { PGWALSTREAMS_CONFIG: 'env.yml' }, { kind: 'config-check', config: 'env.yml' }],
    [['config', 'schema'], {}, { kind: 'config-schema' }],
    [['--help'], {}, { kind: 'help' }],
    [['config', 'check', '-h'], {}, { kind: 'help' }],
    [['-v'], {}, { kind: 'version' }],
    [['status', '-c', 'a.yml'], {}, { kind: 'status', config: 'a.yml' }],
    [
      ['backfill', 'users', 'billing.invoices', '--where', 'id > 5'],
      {},
      {
        kind: 'backfill-start',
        config: 'config.yml',
        tables: [
          { schema: 'public', table: 'users' },
          { schema: 'billing', table: 'invoices' },
        ],
        where: 'id > 5',
      },
    ],
    [
      ['backfill', 'a.b.c'],
      {},
      { kind: 'backfill-start', config: 'config.yml', tables: [{ schema: 'a', table: 'b.c' }], where: null },
    ],
    [['backfill', 'list', '-c', 'a.yml'], {}, { kind: 'backfill-list', config: 'a.yml' }],
    [['backfill', 'cancel', 'bf-1'], {}, { kind: 'backfill-cancel', config: 'config.yml', id: 'bf-1' }],
    [['drop-slot'], { PGWALSTREAMS_CONFIG: 'env.yml' }, { kind: 'drop-slot', config: 'env.yml', yes: false }],
    [['drop-slot', '--yes', '-c', 'a.yml'], {}, { kind: 'drop-slot', config: 'a.yml', yes: true }],
  ];
  for (const [argv, env, expected] of cases) {
    it(`reads ${JSON.stringify(argv)}`, () => assert.deepEqual(parseCommand(argv, env), expected));
  }

  const errors: [string[], RegExp][] = [
    [['serve'], /unknown command "serve": use run, config, status, drop-slot or backfill/],
    [['backfill'], /backfill needs the tables to read/],
    [['backfill', 'cancel'], /backfill cancel needs the id/],
    [['backfill', 'cancel', 'a', 'b'], /unexpected argument "b"/],
    [['backfill', 'list', 'x'], /unexpected argument "x"/],
    [['backfill', 'users', '--where', ' '], /--where is empty/],
    [['config'], /config needs a subcommand: check or schema/],
    [['config', 'lint'], /unknown config subcommand "lint"/],
    [['config', 'check', 'a.yml', 'b.yml'], /unexpected argument "b.yml"/],
    [['config', 'check', 'a.yml', '-c', 'b.yml'], /either as an argument or with --config/],
    [['run', 'a.yml'], /unexpected argument "a.yml"/],
    [['status', 'now'], /unexpected argument "now"/],
    [['--conifg', 'a.yml'], /Unknown option '--conifg'/],
  ];
  for (const [argv, message] of errors) {
    it(`rejects ${JSON.stringify(argv)}`, () => {
      const command = parseCommand(argv, {});
      assert.equal(command.kind, 'usage-error');
      assert.match((command as { message: string }).message, message);
    });
  }

  it('prints the usage with a usage error, and exits 2', async () => {
    const { status, stderr } = await cli(['bogus']);
    assert.equal(status, 2);
    assert.ok(stderr.startsWith('pgwalstreams: unknown command "bogus"'));
    assert.ok(stderr.includes(USAGE));
  });
});

describe('config check', () => {
  const secret = 'Ch3ck-pa55-secret';
  const natsSecret = 'nats-Ch3ck-token';
  let dir: string;
  let file: (name: string, text: string) => string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-cli-'));
    file = (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  function assertNoSecret(text: string): void {
    for (const value of [secret, natsSecret]) assert.ok(!text.includes(value), `a secret leaked:\n${text}`);
  }

  it('prints ok and the effective configuration, secrets redacted, and exits 0', async () => {
    const passwordFile = file('pg-password', `${secret}\n`);
    const path = file(
      'valid.yml',
      `database:\n  name: app\n  passwordFile: ${passwordFile}\nnats:\n  ackTimeout: 2s\n`,
    );
    const { status, stdout, stderr } = await cli(['config', 'check', path], {
      PGUSER: 'from-libpq',
      PGWALSTREAMS_NATS_TOKEN: natsSecret,
    });
    assert.equal(status, 0, stderr);
    assert.equal(stderr, '');
    assert.ok(stdout.startsWith(`ok: ${path}\n`));
    assertNoSecret(stdout);
    const effective = parseYaml(stdout.slice(stdout.indexOf('\n') + 1)) as {
      database: Record<string, unknown>;
      nats: Record<string, unknown>;
    };
    assert.equal(effective.database['user'], 'from-libpq');
    assert.equal(effective.database['password'], '[redacted]');
    assert.equal(effective.database['passwordFile'], passwordFile);
    assert.equal(effective.database['sslMode'], 'disable');
    assert.equal(effective.nats['token'], '[redacted]');
    assert.equal(effective.nats['ackTimeout'], 2000);
  });

  it('prints every problem with its key path, without secrets, and exits 2', async () => {
    const path = file(
      'invalid.yml',
      [
        'listener:',
        `  slotName: ${secret}`,
        'database:',
        '  name: app',
        '  user: app',
        `  password: ${secret}`,
        '  sslMode: verify-full',
        `  sslRootCert: ${join(dir, 'missing-ca.pem')}`,
        'nats:',
        `  topicPrefix: "${natsSecret}.*"`,
        '',
      ].join('\n'),
    );
    const { status, stdout, stderr } = await cli(['config', 'check', path], {
      PGWALSTREAMS_NATS_TOKEN: natsSecret,
    });
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assertNoSecret(stderr);
    assert.match(stderr, new RegExp(`^pgwalstreams: invalid configuration in ${path}\\n`));
    assert.match(stderr, /- listener\.slotName: "\[redacted\]" is not a valid slot name/);
    assert.match(stderr, /- database\.sslRootCert: cannot read ".*missing-ca\.pem" \(ENOENT\)/);
    assert.match(stderr, /- nats\.topicPrefix: "\[redacted\]\.\*" is not a valid subject prefix/);
  });

  it('reports a file that cannot be read, and exits 2', async () => {
    const { status, stderr } = await cli(['config', 'check', join(dir, 'nope.yml')]);
    assert.equal(status, 2);
    assert.match(stderr, /cannot read configuration file .*nope\.yml \(ENOENT\)/);
  });
});

describe('config schema', () => {
  it('prints a JSON Schema of the input side, titled, without $schema or $id', async () => {
    const { status, stdout } = await cli(['config', 'schema']);
    assert.equal(status, 0);
    const schema = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(schema['title'], 'pgwalstreams configuration');
    assert.ok(!('$schema' in schema) && !('$id' in schema));
    assert.ok(!stdout.includes('"required"'), 'no key is required: each may come from the environment');
    const props = (path: string[]): Record<string, Record<string, unknown>> => {
      let node = schema;
      for (const key of path) node = (node['properties'] as Record<string, Record<string, unknown>>)[key]!;
      return node['properties'] as Record<string, Record<string, unknown>>;
    };
    assert.deepEqual(props(['nats'])['ackTimeout'], {
      default: '10s',
      type: ['string', 'number'],
    });
    assert.deepEqual(props(['database'])['sslMode']?.['enum'], [
      'disable',
      'require',
      'verify-ca',
      'verify-full',
    ]);
    assert.deepEqual(Object.keys(props(['nats', 'tls'])), ['ca', 'cert', 'key']);
    for (const key of [
      'user',
      'password',
      'passwordFile',
      'token',
      'tokenFile',
      'nkeySeedFile',
      'credsFile',
    ]) {
      assert.equal(props(['nats'])[key]?.['type'], 'string', `nats.${key}`);
    }
    assert.equal(props(['database'])['filter']?.['additionalProperties'], false);
  });
});

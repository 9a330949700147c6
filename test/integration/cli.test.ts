/**
 * The command line as users run it: `node dist/src/main.js …` as a child process, its exit status
 * and its output. No servers are needed: these commands never connect.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runPgwalstreams as pgwalstreams } from './harness/service.js';

const SECRET = 'cli-Pr0cess-secret';

describe('command line', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-cli-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('config check: a valid file prints ok and the effective configuration, exit 0', async () => {
    const file = join(dir, 'valid.yml');
    writeFileSync(file, `database:\n  name: app\n  user: app\n  password: ${SECRET}\n`);
    const { status, stdout, stderr } = await pgwalstreams(['config', 'check', file], {
      PGWALSTREAMS_NATS_USER: 'svc',
      PGWALSTREAMS_NATS_PASSWORD: `${SECRET}-nats`,
    });
    assert.equal(status, 0, stderr);
    assert.match(stdout, new RegExp(`^ok: ${file}\\n`));
    assert.match(stdout, /\n {2}user: svc\n {2}password: "\[redacted\]"\n/);
    assert.ok(!stdout.includes(SECRET), stdout);
  });

  test('config check: an invalid file prints every problem, exit 2', async () => {
    const file = join(dir, 'invalid.yml');
    writeFileSync(
      file,
      `database:\n  password: ${SECRET}\n  sslMode: prefer\nlistener:\n  slotName: ${SECRET}\n`,
    );
    const { status, stdout, stderr } = await pgwalstreams(['config', 'check', file]);
    assert.equal(status, 2);
    assert.equal(stdout, '');
    for (const path of ['database.name', 'database.user', 'database.sslMode', 'listener.slotName']) {
      assert.match(stderr, new RegExp(`\\n {2}- ${path.replace('.', '\\.')}: `), path);
    }
    assert.ok(!stderr.includes(SECRET), stderr);
  });

  test('config check: a 50 MB value, in the file or a variable, is quoted cut short with its size, exit 2', async () => {
    const file = join(dir, 'huge.yml');
    const huge = 'a'.repeat(50 * 1024 * 1024);
    writeFileSync(file, `database:\n  name: app\n  user: app\nlistener:\n  slotName: ${huge}\n`);
    const { status, stdout, stderr } = await pgwalstreams(['config', 'check', file], {
      PGWALSTREAMS_LOGGER_LEVEL: 'b'.repeat(100_000), // near the most one variable may hold
    });
    assert.equal(status, 2);
    assert.equal(stdout, '');
    assert.ok(stderr.length < 1000, `${stderr.length} characters on stderr`);
    assert.match(stderr, /\n {2}- listener\.slotName: "a{64}"… \(52428800 bytes\) is not a valid slot name/);
    assert.match(
      stderr,
      /\n {2}- logger\.level: "b{64}"… \(100000 bytes\) is not one of .*\(from PGWALSTREAMS_LOGGER_LEVEL\)/,
    );
  });

  test('config schema prints the JSON Schema, exit 0', async () => {
    const { status, stdout } = await pgwalstreams(['config', 'schema']);
    assert.equal(status, 0);
    assert.equal((JSON.parse(stdout) as { title: string }).title, 'pgwalstreams configuration');
  });

  test('run --config and --config read the same file; a missing one is a configuration error, exit 2', async () => {
    const missing = join(dir, 'missing.yml');
    for (const args of [
      ['run', '--config', missing],
      ['--config', missing],
    ]) {
      const { status, stderr } = await pgwalstreams(args);
      assert.equal(status, 2);
      assert.match(stderr, /cannot read configuration file .*missing\.yml \(ENOENT\)/);
    }
  });

  test('an unknown command prints the usage, exit 2', async () => {
    const { status, stderr } = await pgwalstreams(['start']);
    assert.equal(status, 2);
    assert.match(stderr, /unknown command "start"[\s\S]*usage: pgwalstreams/);
  });
});

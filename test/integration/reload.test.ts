/**
 * Live reload of the filter while the service streams: through a Kubernetes-style ConfigMap
 * volume (three `..data` swaps, one of them invalid), an in-place edit, a rename-save and SIGHUP.
 * Each valid version takes effect for the changes after it, an invalid one is refused with the last
 * good filter kept, and a table published throughout loses and duplicates nothing. A topic prefix
 * outside the stream pgwalstreams manages is refused too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { configHash } from '../../src/config/watch.js';
import { get, metric } from './harness/http.js';
import { readStream, waitForCount } from './harness/jetstream.js';
import { ConfigMapVolume } from './harness/configmap.js';
import { freshNames, serviceConfig, startServers, type Servers } from './harness/scenario.js';
import { ServiceProcess } from './harness/service.js';
import { freePort, waitFor } from './harness/wait.js';

describe('live filter reload', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
    for (const t of ['always', 'ra', 'rb', 'rc']) await s.pg.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`);
  });
  after(async () => {
    await s?.dispose();
  });

  /** Inserts into `always` until stopped; returns how many rows it inserted. */
  function produce(): { stop(): Promise<number> } {
    let running = true;
    let n = 0;
    const loop = (async () => {
      while (running) await s.pg.query('INSERT INTO always VALUES ($1)', [++n]);
    })();
    return {
      async stop() {
        running = false;
        await loop;
        return n;
      },
    };
  }

  test('three ConfigMap swaps while streaming: each filter takes effect, the invalid one is refused, nothing is lost', async () => {
    const names = await freshNames(s);
    await s.pg.query('TRUNCATE always');
    const configFor = (tables: Record<string, string[]>) =>
      stringify(
        serviceConfig(s, names, { database: { filter: { tables: { always: ['insert'], ...tables } } } }),
      );
    const volume = new ConfigMapVolume('config.yml', configFor({ ra: ['insert'] }));
    const service = ServiceProcess.start({}, {}, volume.path);
    await service.waitForLog('replication started');
    const producer = produce();
    try {
      const reloaded = (text: string) =>
        service.waitForLog(new RegExp('configuration reloaded'), 15_000).then(() =>
          waitFor(
            () =>
              service.logs.find((l) => l.msg === 'configuration reloaded' && l['hash'] === configHash(text)),
            {
              what: `reload of ${configHash(text)}`,
            },
          ),
        );
      const marker = async (table: string, id: number) => s.pg.query(`INSERT INTO ${table} VALUES (${id})`);

      // GIVEN the first filter (ra)
      await marker('ra', 1);
      await marker('rb', 1); // filtered out
      // WHEN the ConfigMap is updated to add rb
      const v2 = configFor({ ra: ['insert'], rb: ['insert'] });
      volume.update(v2);
      await reloaded(v2);
      await marker('rb', 2);
      // AND then to an invalid version (an unknown action)
      volume.update(configFor({ rc: ['upsert'] }));
      await service.waitForLog('configuration change refused: the last good configuration stays in force');
      await marker('rb', 3); // still published: the last good filter stays
      await marker('rc', 1); // still filtered out
      // AND then to a filter with rc instead of ra and rb
      const v4 = configFor({ rc: ['insert'] });
      volume.update(v4);
      await reloaded(v4);
      await marker('rb', 4); // filtered out now
      await marker('rc', 2);
      const rows = await producer.stop();

      // THEN the marker rows follow the filter in force when they were committed
      await waitForCount(s.nc, names.stream, rows + 4, 60_000);
      const events = await readStream(s.nc, names.stream);
      const markers = events
        .filter((e) => e.event.table !== 'always')
        .map((e) => `${e.event.table}:${e.event.data['id'] as number}`);
      assert.deepEqual(markers, ['ra:1', 'rb:2', 'rb:3', 'rc:2']);
      // AND the table published throughout has every row once, in order
      const always = events.filter((e) => e.event.table === 'always').map((e) => e.event.data['id']);
      assert.deepEqual(
        always,
        Array.from({ length: rows }, (_, i) => i + 1),
      );
      assert.ok(rows > 0);
    } finally {
      await producer.stop();
      await service.dispose();
      volume.dispose();
    }
  });

  test('an in-place edit, a rename-save and SIGHUP', async () => {
    const names = await freshNames(s);
    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-reload-'));
    const path = join(dir, 'config.yml');
    const configFor = (tables: Record<string, string[]>) =>
      stringify(serviceConfig(s, names, { database: { filter: { tables } } }));
    writeFileSync(path, configFor({ ra: ['insert'] }));
    const service = ServiceProcess.start({}, {}, path);
    try {
      await service.waitForLog('replication started');
      const reloads = () => service.logs.filter((l) => l.msg === 'configuration reloaded').length;
      // WHEN the file is edited in place
      writeFileSync(path, configFor({ rb: ['insert'] }));
      await waitFor(() => reloads() === 1 || undefined, { what: 'the in-place edit applied' });
      await s.pg.query('INSERT INTO ra VALUES (101)'); // filtered out now
      await s.pg.query('INSERT INTO rb VALUES (101)');
      // AND saved by renaming a new file over it
      writeFileSync(join(dir, 'config.yml.tmp'), configFor({ rc: ['insert'] }));
      renameSync(join(dir, 'config.yml.tmp'), path);
      await waitFor(() => reloads() === 2 || undefined, { what: 'the rename-save applied' });
      await s.pg.query('INSERT INTO rb VALUES (102)'); // filtered out now
      await s.pg.query('INSERT INTO rc VALUES (101)');
      // AND the process gets SIGHUP: it reads the file and keeps running
      service.kill('SIGHUP');
      await service.waitForLog('sighup: reading the configuration file');
      await s.pg.query('INSERT INTO rc VALUES (102)');

      // THEN each version applied to the changes after it
      await waitForCount(s.nc, names.stream, 3);
      const events = await readStream(s.nc, names.stream);
      assert.deepEqual(
        events.map((e) => `${e.event.table}:${e.event.data['id'] as number}`),
        ['rb:101', 'rc:101', 'rc:102'],
      );
    } finally {
      await service.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  test('a topic prefix outside the stream pgwalstreams manages is refused; events keep flowing into it', async () => {
    const names = await freshNames(s, { createStream: false }); // pgwalstreams creates it, on <prefix>.>
    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-reload-'));
    const path = join(dir, 'config.yml');
    const port = await freePort();
    const configFor = (topicPrefix: string) =>
      stringify(
        serviceConfig(s, names, {
          listener: { serverPort: port },
          database: { filter: { tables: { ra: ['insert'] } } },
          nats: { topicPrefix, stream: { name: names.stream } },
        }),
      );
    writeFileSync(path, configFor(names.prefix));
    const service = ServiceProcess.start({}, {}, path);
    try {
      await service.waitForLog('replication started');
      await s.pg.query('INSERT INTO ra VALUES (201)');
      // WHEN the prefix changes to one the stream's subjects do not take in
      writeFileSync(path, configFor(`${names.prefix}x`));
      const refused = await service.waitForLog(
        'configuration change refused: the last good configuration stays in force',
      );
      // THEN the log line says why and what to do
      const { message } = refused['err'] as { message: string };
      const why =
        `nats.topicPrefix: cannot change to "${names.prefix}x" while pgwalstreams manages stream ` +
        `${names.stream}, whose subjects (${names.prefix}.>) do not take in "${names.prefix}x.>": ` +
        "update the stream's subjects and restart pgwalstreams with the new prefix, " +
        'or remove nats.stream to stop managing the stream';
      assert.ok(message.includes(why), message);
      assert.equal(refused['activeHash'], configHash(configFor(names.prefix)));
      // AND the old prefix stays in force: the next row goes to the stream on the old subject
      await s.pg.query('INSERT INTO ra VALUES (202)');
      await waitForCount(s.nc, names.stream, 2);
      // AND a prefix the stream takes in (under <prefix>.>) still reloads
      const inside = configFor(`${names.prefix}.v2`);
      writeFileSync(path, inside);
      await waitFor(
        () =>
          service.logs.find((l) => l.msg === 'configuration reloaded' && l['hash'] === configHash(inside)),
        { what: 'the reload of a prefix inside the stream' },
      );
      await s.pg.query('INSERT INTO ra VALUES (203)');

      await waitForCount(s.nc, names.stream, 3);
      const events = await readStream(s.nc, names.stream);
      assert.deepEqual(
        events.map((e) => `${e.subject}:${e.event.data['id'] as number}`),
        [
          `${names.prefix}.public.ra.insert:201`,
          `${names.prefix}.public.ra.insert:202`,
          `${names.prefix}.v2.public.ra.insert:203`,
        ],
      );
      // AND the metric counts one reload refused and one applied
      const metrics = (await get(port, '/metrics')).body;
      assert.equal(metric(metrics, 'pgwalstreams_config_reloads_total', 'result="refused"'), 1);
      assert.equal(metric(metrics, 'pgwalstreams_config_reloads_total', 'result="applied"'), 1);
    } finally {
      await service.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

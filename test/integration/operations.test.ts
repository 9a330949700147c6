/**
 * Operating the service: metrics that match what JetStream holds, lag that shows an outage,
 * readiness and liveness, a PostgreSQL restart survived without help, and a hot standby that
 * takes over the slot when the active instance dies.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { get, metric } from './harness/http.js';
import { readStream, streamCount, waitForConnection, waitForCount } from './harness/jetstream.js';
import {
  confirmedFlush,
  freshNames,
  serviceConfig,
  startServers,
  startService,
  type Names,
  type Servers,
} from './harness/scenario.js';
import { runPgwalstreams as command, ServiceProcess } from './harness/service.js';
import { freePort, waitFor } from './harness/wait.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

describe('operations', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
    await s.pg.query('CREATE TABLE ops (id int PRIMARY KEY, tx int)');
  });
  after(async () => {
    await s?.dispose();
  });

  async function startWithHttp(names: Names, extra: { nats?: object; listener?: object } = {}) {
    const port = await freePort();
    const config = serviceConfig(s, names, {
      listener: { serverPort: port, slotCheckInterval: '300ms', ...extra.listener },
      nats: { ackTimeout: '2s', ...extra.nats },
    });
    return { port, config, service: await startService(config) };
  }

  test('/metrics during a stream: the counters match what JetStream holds', async () => {
    const names = await freshNames(s);
    const { port, service } = await startWithHttp(names);
    try {
      // GIVEN 20 transactions of 50 inserts, 10 updates and 5 deletes
      for (let tx = 1; tx <= 20; tx++) {
        await s.pg.query(
          `INSERT INTO ops SELECT g, ${tx} FROM generate_series(${tx * 1000}, ${tx * 1000 + 49}) g`,
        );
      }
      await s.pg.query('UPDATE ops SET tx = 0 WHERE id < 1010');
      await s.pg.query('DELETE FROM ops WHERE id >= 1045 AND id < 1050');
      await waitForCount(s.nc, names.stream, 1015);
      // THEN the counters agree with the stream, once every PubAck is in
      const text = await waitFor(
        async () => {
          const m = (await get(port, '/metrics')).body;
          const acked = metric(m, 'pgwalstreams_puback_latency_seconds_count');
          return acked === 1015 && metric(m, 'pgwalstreams_flushed_lsn') > 0 ? m : undefined;
        },
        { what: 'every PubAck counted and the flushed LSN reported' },
      );
      const events = await readStream(s.nc, names.stream);
      const count = (action: string) => events.filter((e) => e.event.action === action).length;
      assert.equal(metric(text, 'pgwalstreams_events_published_total', 'action="insert"'), count('INSERT'));
      assert.equal(metric(text, 'pgwalstreams_events_published_total', 'action="update"'), count('UPDATE'));
      assert.equal(metric(text, 'pgwalstreams_events_published_total', 'action="delete"'), count('DELETE'));
      assert.equal(metric(text, 'pgwalstreams_events_published_total', 'table="ops"'), events.length);
      assert.equal(metric(text, 'pgwalstreams_transactions_total'), 22);
      assert.equal(metric(text, 'pgwalstreams_puback_latency_seconds_count'), events.length);
      assert.equal(metric(text, 'pgwalstreams_commit_to_ack_seconds_count') >= 22, true);
      assert.equal(metric(text, 'pgwalstreams_replicating'), 1);
      assert.equal(metric(text, 'pgwalstreams_nats_connected'), 1);
      assert.equal(metric(text, 'pgwalstreams_inflight_limit'), 4096);
      assert.equal(metric(text, 'pgwalstreams_config_info', 'hash="'), 1);
      assert.ok(metric(text, 'pgwalstreams_flushed_lsn') > 0);
    } finally {
      await service.dispose();
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('lag rises while nats-server is down and returns to zero after; readiness follows, liveness stays', async (t) => {
    const names = await freshNames(s);
    const { port, service } = await startWithHttp(names);
    try {
      const lag = async () => metric((await get(port, '/metrics')).body, 'pgwalstreams_lag_bytes');
      await waitFor(async () => (await get(port, '/readyz')).status === 200 || undefined, { what: 'ready' });
      // WHEN nats-server stops and changes keep coming
      await s.nats.stop();
      for (let tx = 1; tx <= 5; tx++) {
        await s.pg.query(
          `INSERT INTO ops SELECT g, ${tx} FROM generate_series(${tx * 1000}, ${tx * 1000 + 999}) g`,
        );
      }
      // THEN the lag grows, readiness turns false, liveness stays true
      const peak = await waitFor(async () => ((await lag()) > 100_000 ? lag() : undefined), {
        what: 'lag to rise',
        timeoutMs: 20_000,
      });
      await waitFor(async () => (await get(port, '/readyz')).status === 503 || undefined, {
        what: 'not ready',
      });
      assert.equal((await get(port, '/healthz')).status, 200);
      // WHEN nats-server is back
      await s.nats.start();
      await waitForConnection(s.nc);
      // THEN everything arrives, the lag returns to zero and the service is ready again
      await waitForCount(s.nc, names.stream, 5000, 60_000);
      await waitFor(async () => (await lag()) === 0 || undefined, {
        what: 'lag back to zero',
        timeoutMs: 60_000,
      });
      await waitFor(async () => (await get(port, '/readyz')).status === 200 || undefined, {
        what: 'ready again',
      });
      t.diagnostic(`lag peaked at ${peak} bytes during the outage, then returned to 0`);
    } finally {
      await service.dispose();
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('PostgreSQL restarted mid-stream: the service reconnects by itself and nothing is lost', async () => {
    const names = await freshNames(s);
    const { service } = await startWithHttp(names);
    try {
      await s.pg.query(`INSERT INTO ops SELECT g, 1 FROM generate_series(1, 20000) g`);
      await waitForCount(s.nc, names.stream, 1000);
      // WHEN PostgreSQL restarts while the service streams
      await s.pg.stop();
      await s.pg.start();
      await s.pg.query(`INSERT INTO ops SELECT g, 2 FROM generate_series(20001, 30000) g`);
      // THEN it reconnects and every change is in the stream exactly once
      await waitForCount(s.nc, names.stream, 30_000, 90_000);
      const events = await readStream(s.nc, names.stream);
      assert.equal(events.length, 30_000);
      assert.equal(new Set(events.map((e) => e.event.data['id'])).size, 30_000);
      assert.ok(service.logs.some((l) => l.msg === 'replication session failed, retrying'));
    } finally {
      await service.dispose();
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('two instances on one slot: the standby waits, then takes over when the active one is killed', async (t) => {
    // GIVEN an active instance and a standby on the same slot
    const names = await freshNames(s);
    const { config: activeConfig, service: active } = await startWithHttp(names);
    const standbyPort = await freePort();
    const standby = ServiceProcess.start({
      ...activeConfig,
      listener: { ...(activeConfig['listener'] as object), serverPort: standbyPort },
    });
    try {
      await standby.waitForLog('standby: another instance holds the slot');
      const notReady = await get(standbyPort, '/readyz');
      assert.equal(notReady.status, 503);
      assert.match(notReady.body, /standby/);
      assert.equal((await get(standbyPort, '/healthz')).status, 200);
      // AND changes streaming through the active one
      let n = 0;
      let running = true;
      const producer = (async () => {
        while (running)
          await s.pg.query('INSERT INTO ops SELECT g, 0 FROM generate_series($1::int, $1::int + 99) g', [
            n++ * 100 + 1,
          ]);
      })();
      await waitForCount(s.nc, names.stream, 2000);
      // WHEN the active instance is killed with SIGKILL
      const killedAt = Date.now();
      active.kill('SIGKILL');
      await active.exited;
      // THEN the standby takes over within seconds
      const line = await standby.waitForLog('replication started', 30_000);
      const takeoverMs = (line['time'] as number) - killedAt;
      assert.equal(line['tookOver'], true);
      await waitFor(async () => (await get(standbyPort, '/readyz')).status === 200 || undefined, {
        what: 'standby ready',
      });
      running = false;
      await producer;
      // AND the stream holds every change exactly once
      await waitForCount(s.nc, names.stream, n * 100, 60_000);
      const events = await readStream(s.nc, names.stream);
      const ids = events.map((e) => e.event.data['id'] as number);
      assert.equal(ids.length, n * 100);
      assert.equal(new Set(ids).size, n * 100);
      t.diagnostic(
        `standby took over ${takeoverMs} ms after the active instance was killed (${n * 100} rows)`,
      );
      assert.ok(takeoverMs < 10_000, `takeover took ${takeoverMs} ms`);
    } finally {
      await Promise.all([active.dispose(), standby.dispose()]);
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('status and drop-slot: what the server sees, and decommissioning with confirmation', async () => {
    const names = await freshNames(s);
    const { config, service } = await startWithHttp(names);
    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-ops-'));
    const file = join(dir, 'config.yml');
    writeFileSync(file, stringify(config));
    try {
      await s.pg.query('INSERT INTO ops VALUES (1, 1)');
      await waitForCount(s.nc, names.stream, 1);
      // WHEN status runs while the service replicates
      const live = await command(['status', '--config', file]);
      assert.equal(live.status, 0, live.stderr);
      assert.match(live.stdout, new RegExp(`publication  ${names.publication}: FOR ALL TABLES`));
      assert.match(live.stdout, new RegExp(`slot         ${names.slot}\\n  held by    pid \\d+`));
      assert.match(live.stdout, /lag {8}[\d.]+ MB/);
      assert.match(live.stdout, /wal_status reserved/);
      assert.match(live.stdout, /backfills {4}none \(no progress bucket\)/);
      // THEN drop-slot refuses while the slot is held
      const busy = await command(['drop-slot', '--yes', '--config', file]);
      assert.equal(busy.status, 1);
      assert.match(busy.stderr, /in use by pid \d+: stop every pgwalstreams instance first/);
      await service.dispose();
      // AND without --yes it only says what it would do
      const dry = await command(['drop-slot', '--config', file]);
      assert.equal(dry.status, 2);
      assert.match(dry.stderr, /Run again with --yes/);
      const [still] = await s.pg.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        names.slot,
      ]);
      assert.ok(still, 'the slot is still there');
      // AND with --yes it drops the slot
      const drop = await command(['drop-slot', '--yes', '--config', file]);
      assert.equal(drop.status, 0, drop.stderr);
      const [gone] = await s.pg.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [
        names.slot,
      ]);
      assert.equal(gone, undefined);
      const after = await command(['status', '--config', file]);
      assert.equal(after.status, 1);
      assert.match(after.stdout, /absent/);
    } finally {
      await service.dispose();
      rmSync(dir, { recursive: true, force: true });
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('heartbeat: with listener.heartbeatInterval the idle slot advances, and heartbeats are never published', async () => {
    const names = await freshNames(s);
    const { service } = await startWithHttp(names, { listener: { heartbeatInterval: '200ms' } });
    try {
      const start = await confirmedFlush(s, names.slot);
      // WHEN nothing else writes, the heartbeats alone move the confirmed position
      await waitFor(async () => (await confirmedFlush(s, names.slot)) > start || undefined, {
        what: 'the slot to advance on heartbeats',
      });
      const later = await confirmedFlush(s, names.slot);
      await waitFor(async () => (await confirmedFlush(s, names.slot)) > later || undefined, {
        what: 'the slot to keep advancing',
      });
      // THEN no heartbeat reached the stream
      assert.equal(await streamCount(s.nc, names.stream), 0);
    } finally {
      await service.dispose();
    }
  });

  test('a second SIGTERM exits at once while the first waits for PubAcks, confirming nothing unacknowledged', async () => {
    const names = await freshNames(s);
    const { port, service } = await startWithHttp(names, {
      listener: { shutdownTimeout: '60s' },
      nats: { ackTimeout: '60s' },
    });
    /** The service's own count of events published and not yet acknowledged (set every 500 ms). */
    const inFlight = async () => metric((await get(port, '/metrics')).body, 'pgwalstreams_inflight_events');
    try {
      // GIVEN a change published while nats-server is paused: its PubAck cannot come
      s.nats.pause();
      const before = await confirmedFlush(s, names.slot);
      await s.pg.query('INSERT INTO ops VALUES (777, 7)');
      await waitFor(async () => (await inFlight()) === 1 || undefined, {
        what: "the change in the service's publish window (pgwalstreams_inflight_events 1)",
      });
      // WHEN it gets SIGTERM, it waits for the PubAck (up to the 60 s grace period): after logging
      // that it stops, it still answers /metrics with the event outstanding and, read after that
      // round trip, has not logged 'replication stopped' (a service that did not wait logs it in the
      // same tick as 'stopping', and its last gauge value can outlive the pipeline while it exits)
      service.kill('SIGTERM');
      await service.waitForLog('stopping: waiting for outstanding pubacks');
      const stillRunning =
        (await inFlight().catch(() => undefined)) === 1 &&
        !service.logs.some((l) => l.msg === 'replication stopped');
      assert.ok(stillRunning, 'the first signal waits');
      // AND a second SIGTERM ends it at once
      const t0 = Date.now();
      service.kill('SIGTERM');
      const exit = await service.exited;
      assert.equal(exit.code, 130);
      assert.ok(Date.now() - t0 < 5000, 'it exited at once');
      // THEN the unacknowledged change was not confirmed: the slot has not moved past it
      assert.equal(await confirmedFlush(s, names.slot), before);
    } finally {
      await service.dispose();
      s.nats.resume();
      await waitForConnection(s.nc);
      await s.pg.query('TRUNCATE ops');
    }
  });

  test('readiness means events are stored: nats-server paused, not ready (metric and log say why), ready again', async () => {
    const names = await freshNames(s);
    const { port, service } = await startWithHttp(names, { nats: { ackTimeout: '30s' } });
    const ready = async (reason: string) =>
      metric((await get(port, '/metrics')).body, 'pgwalstreams_ready', `reason="${reason}"`);
    try {
      await waitFor(async () => (await get(port, '/readyz')).status === 200 || undefined, { what: 'ready' });
      assert.equal(await ready('replicating'), 1);
      // WHEN nats-server is paused (its connection stays open) while a change waits for its PubAck
      s.nats.pause();
      await s.pg.query('INSERT INTO ops VALUES (888, 8)');
      // THEN the service is not ready long before the ack timeout, and says why
      const notReady = await waitFor(
        async () => {
          const r = await get(port, '/readyz');
          return r.status === 503 ? r : undefined;
        },
        { what: 'not ready while nats-server is paused', timeoutMs: 15_000 },
      );
      assert.match(notReady.body, /^(nats connected but not answering|pubacks overdue)/);
      const line = await service.waitForLog(/^not ready: /);
      assert.ok(['nats_not_answering', 'pubacks_overdue'].includes(line['reason'] as string));
      assert.equal(await ready(line['reason'] as string), 1);
      assert.equal(await ready('replicating'), 0);
      assert.equal((await get(port, '/healthz')).status, 200);
      // WHEN it goes on
      s.nats.resume();
      // THEN the event is stored and the service is ready again
      await waitForCount(s.nc, names.stream, 1, 30_000);
      await waitFor(async () => (await get(port, '/readyz')).status === 200 || undefined, {
        what: 'ready again',
      });
      await service.waitForLog('ready: events are being stored');
    } finally {
      s.nats.resume();
      await service.dispose();
      await waitForConnection(s.nc);
      await s.pg.query('TRUNCATE ops');
    }
  });
});

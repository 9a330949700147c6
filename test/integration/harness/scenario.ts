/**
 * What every end-to-end scenario needs: one PostgreSQL and one nats-server for the file, a NATS
 * client, and per test a fresh set of names (slot, publication, subject prefix, stream) so tests
 * never see each other's events.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { parseLsn } from '../../../src/source/lsn.js';
import { createStream } from './jetstream.js';
import { startNats, type NatsOptions, type NatsServer } from './nats.js';
import { startPostgres, type PostgresOptions, type PostgresServer } from './postgres.js';
import { ServiceProcess } from './service.js';

/** Servers and a client shared by the tests of one file. */
export interface Servers {
  pg: PostgresServer;
  nats: NatsServer;
  nc: NatsConnection;
  /** Stops everything and removes the temp dirs. */
  dispose(): Promise<void>;
}

/**
 * Starts a PostgreSQL (logical) and a nats-server (JetStream) and connects to NATS.
 * `natsConfig` is the text of a nats-server configuration file (for limits such as max_payload);
 * `postgres` and `nats` are the harness options of each server (TLS, hba rules, …), and the test's
 * own NATS client connects with `nats.connectOptions`. If one server fails to start, the other
 * is disposed before the error is thrown.
 */
export async function startServers(
  options: { natsConfig?: string; postgres?: PostgresOptions; nats?: NatsOptions } = {},
): Promise<Servers> {
  const natsOptions: NatsOptions = { ...options.nats };
  if (options.natsConfig !== undefined) {
    const file = join(mkdtempSync(join(tmpdir(), 'pgwalstreams-nats-conf-')), 'nats.conf');
    writeFileSync(file, options.natsConfig);
    natsOptions.args = [...(natsOptions.args ?? []), '-c', file];
  }
  const [pgStart, natsStart] = await Promise.allSettled([
    startPostgres(options.postgres),
    startNats(natsOptions),
  ]);
  if (pgStart.status === 'rejected' || natsStart.status === 'rejected') {
    if (pgStart.status === 'fulfilled') await pgStart.value.dispose();
    if (natsStart.status === 'fulfilled') await natsStart.value.dispose();
    throw pgStart.status === 'rejected' ? pgStart.reason : (natsStart as PromiseRejectedResult).reason;
  }
  const pgs = pgStart.value;
  const nats = natsStart.value;
  const nc = await connect({
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
    ...natsOptions.connectOptions,
    servers: nats.url,
  });
  return {
    pg: pgs,
    nats,
    nc,
    async dispose() {
      await nc.close().catch(() => {});
      await Promise.all([pgs.dispose(), nats.dispose()]);
    },
  };
}

let counter = 0;

/** Names unique to one test. */
export interface Names {
  slot: string;
  publication: string;
  prefix: string;
  stream: string;
}

/** A new set of names; the stream is created on `<prefix>.>` unless `createStream` is false. */
export async function freshNames(
  s: Pick<Servers, 'nc'>,
  options: { createStream?: boolean } = {},
): Promise<Names> {
  const n = ++counter;
  const names = { slot: `slot_${n}`, publication: `pub_${n}`, prefix: `t${n}`, stream: `S${n}` };
  if (options.createStream !== false) await createStream(s.nc, names.stream, [`${names.prefix}.>`]);
  return names;
}

/**
 * A service configuration for these servers and names; `extra` is merged section by section.
 * `s.nats.url` is the NATS address: one URL, or a cluster's URLs joined by commas.
 */
export function serviceConfig(
  s: Pick<Servers, 'pg'> & { nats: Pick<NatsServer, 'url'> },
  names: Names,
  extra: { listener?: object; database?: object; nats?: object; logger?: object } = {},
): Record<string, unknown> {
  return {
    listener: { slotName: names.slot, publication: names.publication, serverPort: 0, ...extra.listener },
    database: { host: s.pg.host, port: s.pg.port, name: 'postgres', user: s.pg.user, ...extra.database },
    nats: { address: s.nats.url, topicPrefix: names.prefix, ...extra.nats },
    logger: { level: 'info', ...extra.logger },
  };
}

/** Starts the service and waits until it replicates. */
export async function startService(config: Record<string, unknown>): Promise<ServiceProcess> {
  const service = ServiceProcess.start(config);
  try {
    await service.waitForLog('replication started');
  } catch (error) {
    // A service that never started must not outlive the test (its pipes keep the runner alive).
    await service.dispose();
    throw error;
  }
  return service;
}

/** Runs `work` in one transaction on a new connection and commits; returns what `work` returned. */
export async function inTransaction<T>(s: Servers, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: s.pg.connectionString });
  await c.connect();
  try {
    await c.query('BEGIN');
    const result = await work(c);
    await c.query('COMMIT');
    return result;
  } finally {
    await c.end();
  }
}

/** The slot's confirmed flush LSN. */
export async function confirmedFlush(s: Pick<Servers, 'pg'>, slot: string): Promise<bigint> {
  const [row] = await s.pg.query<{ lsn: string | null }>(
    'SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  if (!row?.lsn) throw new Error(`slot ${slot} has no confirmed_flush_lsn`);
  return parseLsn(row.lsn);
}

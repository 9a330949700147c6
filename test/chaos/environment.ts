/**
 * The servers of one chaos pass, started with the integration harness: a PostgreSQL in logical
 * mode, a nats-server with a file stream on `<prefix>.>`, a TCP proxy in front of each, and
 * pgwalstreams connected to both through the proxies (so connections can be cut). The writers
 * and the checks reach the servers directly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { createStream } from '../integration/harness/jetstream.js';
import {
  freshNames,
  serviceConfig,
  startServers,
  type Names,
  type Servers,
} from '../integration/harness/scenario.js';
import { startTcpProxy, type TcpProxy } from '../integration/harness/tcp-proxy.js';
import { TABLES } from './schema.js';
import { ServiceSupervisor } from './supervisor.js';

/** How a pass sets the servers up. */
export interface EnvironmentOptions {
  duplicateWindowMs: number;
  /** pgwalstreams' `nats.ackTimeout`. */
  ackTimeoutMs: number;
}

export interface Environment {
  servers: Servers;
  names: Names;
  pgProxy: TcpProxy;
  natsProxy: TcpProxy;
  service: ServiceSupervisor;
  /** The pass's own connection to PostgreSQL, for the slot's position (reconnects after a restart). */
  sql: ReconnectingSql;
  /** Where the service logs of the pass are kept. */
  dir: string;
  dispose(): Promise<void>;
}

/**
 * On top of the harness's: a synchronous standby that never connects, so that a transaction that
 * asks for `synchronous_commit = on` commits locally and then waits in COMMIT until its connection
 * ends (`Writer.commitInDoubt`); every other transaction commits with `local`, which flushes the
 * WAL before COMMIT returns as `on` does without a standby, so decoding sees it at once.
 */
export const POSTGRES_SETTINGS = {
  max_wal_size: '2GB',
  synchronous_standby_names: 'chaos_no_such_standby',
  synchronous_commit: 'local',
} as const;

/** Starts everything and waits until pgwalstreams replicates. */
export async function startEnvironment(options: EnvironmentOptions): Promise<Environment> {
  const servers = await startServers({ postgres: { settings: POSTGRES_SETTINGS } });
  const opened: { close(): Promise<unknown> }[] = [];
  let service: ServiceSupervisor | undefined;
  try {
    const names = await freshNames(servers, { createStream: false });
    await createStream(servers.nc, names.stream, [`${names.prefix}.>`], {
      duplicateWindowMs: options.duplicateWindowMs,
    });
    for (const table of TABLES.values()) for (const statement of table.ddl) await servers.pg.query(statement);
    const pgProxy = await startTcpProxy({ host: servers.pg.host, port: servers.pg.port });
    opened.push(pgProxy);
    const natsProxy = await startTcpProxy({ host: '127.0.0.1', port: servers.nats.port });
    opened.push(natsProxy);
    const sql = new ReconnectingSql(servers.pg.connectionString);
    opened.push(sql);

    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-chaos-'));
    const configFile = join(dir, 'config.yml');
    const config = serviceConfig(servers, names, {
      database: { host: pgProxy.host, port: pgProxy.port },
      nats: { address: `nats://${natsProxy.host}:${natsProxy.port}`, ackTimeout: options.ackTimeoutMs },
      listener: { shutdownTimeout: '10s' },
    });
    writeFileSync(configFile, stringify(config));
    service = new ServiceSupervisor(configFile, join(dir, 'service.log'));
    service.start();
    await service.replicating();
    const running = service;
    return {
      servers,
      names,
      pgProxy,
      natsProxy,
      service: running,
      sql,
      dir,
      async dispose() {
        await running.dispose();
        for (const resource of opened) await resource.close().catch(() => undefined);
        await servers.dispose();
      },
    };
  } catch (error) {
    await service?.dispose();
    for (const resource of opened) await resource.close().catch(() => undefined);
    await servers.dispose();
    throw error;
  }
}

/** One SQL connection that is opened again after a failure (the server restarted under it). */
export class ReconnectingSql {
  private client: pg.Client | undefined;

  constructor(private readonly connectionString: string) {}

  /** Runs a query; a failure closes the connection (the next query opens a new one) and is thrown. */
  async query<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
    try {
      if (!this.client) {
        const client = new pg.Client({ connectionString: this.connectionString });
        client.on('error', () => undefined);
        this.client = client;
        await client.connect();
      }
      return (await this.client.query<R>(text, params)).rows;
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }
}

/**
 * The servers of one chaos pass, started with the integration harness: a PostgreSQL in logical
 * mode with a TCP proxy in front of it, and either one nats-server behind a proxy of its own or a
 * 3-node JetStream cluster (a cluster pass), with a file stream on `<prefix>.>` (R3 on the cluster);
 * pgwalstreams reaches PostgreSQL and a single nats-server through the proxies (so connections
 * can be cut), and a cluster directly, given every node's address. The writers and the checks
 * reach the servers directly.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import { stringify } from 'yaml';
import { createStream } from '../integration/harness/jetstream.js';
import { startNats, type NatsServer } from '../integration/harness/nats.js';
import {
  startNatsCluster,
  waitForStreamReplicas,
  type NatsCluster,
} from '../integration/harness/nats-cluster.js';
import { startPostgres, type PostgresServer } from '../integration/harness/postgres.js';
import { freshNames, serviceConfig, type Names } from '../integration/harness/scenario.js';
import { startTcpProxy, type TcpProxy } from '../integration/harness/tcp-proxy.js';
import { TABLES } from './schema.js';
import { ServiceSupervisor } from './supervisor.js';

/** How a pass sets the servers up. */
export interface EnvironmentOptions {
  duplicateWindowMs: number;
  /** pgwalstreams' `nats.ackTimeout`. */
  ackTimeoutMs: number;
  /** A 3-node JetStream cluster and an R3 stream instead of one nats-server. */
  cluster: boolean;
}

/** The one nats-server of a single-server pass, and the proxy pgwalstreams reaches it through. */
export interface SingleNats {
  server: NatsServer;
  proxy: TcpProxy;
}

export interface Environment {
  pg: PostgresServer;
  /** The pass's own NATS client (given every node of a cluster: it follows the cluster). */
  nc: NatsConnection;
  names: Names;
  pgProxy: TcpProxy;
  /** Set in a single-server pass. */
  single?: SingleNats;
  /** Set in a cluster pass. */
  cluster?: NatsCluster;
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
  // Everything opened so far, closed in reverse order if a later step fails, and by `dispose`.
  const opened: { close(): Promise<unknown> }[] = [];
  const closeAll = async () => {
    for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
  };
  try {
    const [pgServer, nats] = await Promise.all([
      startPostgres({ settings: POSTGRES_SETTINGS }).then((server) => {
        opened.push({ close: () => server.dispose() });
        return server;
      }),
      startNatsServers(options.cluster).then((started) => {
        opened.push({ close: () => started.dispose() });
        return started;
      }),
    ]);
    const nc = await connect({ servers: nats.urls, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    opened.push({ close: () => nc.close() });
    const names = await freshNames({ nc }, { createStream: false });
    await createStream(nc, names.stream, [`${names.prefix}.>`], {
      duplicateWindowMs: options.duplicateWindowMs,
      replicas: options.cluster ? 3 : 1,
    });
    if (options.cluster) await waitForStreamReplicas(nc, names.stream, 3);
    for (const table of TABLES.values()) for (const statement of table.ddl) await pgServer.query(statement);
    const pgProxy = await startTcpProxy({ host: pgServer.host, port: pgServer.port });
    opened.push(pgProxy);
    const single = nats.single && {
      server: nats.single,
      proxy: await startTcpProxy({ host: '127.0.0.1', port: nats.single.port }),
    };
    if (single) opened.push(single.proxy);
    const sql = new ReconnectingSql(pgServer.connectionString);
    opened.push(sql);

    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-chaos-'));
    const configFile = join(dir, 'config.yml');
    const url = single ? `nats://${single.proxy.host}:${single.proxy.port}` : nats.urls.join(',');
    const config = serviceConfig({ pg: pgServer, nats: { url } }, names, {
      database: { host: pgProxy.host, port: pgProxy.port },
      // The transaction headers too: the checker holds each event's headers, body and id to agree.
      nats: { ackTimeout: options.ackTimeoutMs, headers: ['lsn', 'xid', 'position'] },
      listener: { shutdownTimeout: '10s' },
    });
    writeFileSync(configFile, stringify(config));
    const service = new ServiceSupervisor(configFile, join(dir, 'service.log'));
    opened.push({ close: () => service.dispose() });
    service.start();
    await service.replicating();
    return {
      pg: pgServer,
      nc,
      names,
      pgProxy,
      ...(single ? { single } : {}),
      ...(nats.cluster ? { cluster: nats.cluster } : {}),
      service,
      sql,
      dir,
      dispose: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** The NATS side of a pass: one nats-server, or a 3-node cluster. */
interface StartedNats {
  urls: string[];
  single?: NatsServer;
  cluster?: NatsCluster;
  dispose(): Promise<void>;
}

async function startNatsServers(cluster: boolean): Promise<StartedNats> {
  if (cluster) {
    const nodes = await startNatsCluster();
    return { urls: nodes.urls, cluster: nodes, dispose: () => nodes.dispose() };
  }
  const server = await startNats();
  return { urls: [server.url], single: server, dispose: () => server.dispose() };
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

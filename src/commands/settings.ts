/**
 * The configuration mapped onto what the parts need: PostgreSQL's side, the JetStream sink, the
 * pipeline, and the routing settings a reload applies.
 */
import { pgSslOptions } from '../config/pg-tls.js';
import type { Config } from '../config/schema.js';
import type { BackfillSettings } from '../backfill/runner.js';
import type { PipelineSettings } from '../pipeline.js';
import type { RouteSettings } from '../route/router.js';
import type { JetStreamSettings } from '../sink/jetstream-sink.js';
import type { PgSettings, SlotSettings } from '../source/replication-connection.js';

/** The settings of every part of the service. */
export interface ServiceSettings {
  pg: PgSettings;
  backfill: BackfillSettings;
  slot: SlotSettings;
  sink: JetStreamSettings;
  pipeline: PipelineSettings;
}

/** The filter and routing settings of a configuration (what a reload applies). */
export function routeSettings(config: Config): RouteSettings {
  return {
    topicPrefix: config.nats.topicPrefix,
    tables: config.database.filter.tables,
    messages: config.database.filter.messages,
    transactionEvents: config.nats.transactionEvents,
  };
}

/** Maps the configuration onto what the parts need. */
export function serviceSettings(config: Config): ServiceSettings {
  const { database, listener, nats } = config;
  const slot = { slot: listener.slotName, publication: listener.publication };
  return {
    pg: {
      host: database.host,
      port: database.port,
      database: database.name,
      user: database.user,
      password: database.password,
      ssl: pgSslOptions(database),
    },
    slot,
    backfill: {
      bucket: config.backfill.bucket,
      replicas: config.backfill.replicas,
      chunkTimeMs: config.backfill.chunkTime,
      maxChunkRows: config.backfill.maxChunkRows,
      initialSnapshot: listener.snapshot === 'initial',
    },
    sink: {
      ackTimeoutMs: nats.ackTimeout,
      window: nats.maxInFlight,
      headers: {
        lsn: nats.headers.includes('lsn'),
        xid: nats.headers.includes('xid'),
        position: nats.headers.includes('position'),
      },
      stream: nats.stream && {
        name: nats.stream.name,
        subjects: nats.stream.subjects,
        storage: nats.stream.storage,
        duplicateWindowMs: nats.stream.duplicateWindow,
        replicas: nats.stream.replicas,
      },
    },
    pipeline: {
      slot,
      maxInFlight: nats.maxInFlight,
      routes: routeSettings(config),
      shutdownTimeoutMs: listener.shutdownTimeout,
    },
  };
}

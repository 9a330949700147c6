/**
 * The configuration mapped onto what the parts need: the pipeline's settings, and the routing
 * settings a reload applies.
 */
import type { Config } from './config/schema.js';
import type { PipelineSettings } from './pipeline.js';
import type { RouteSettings } from './route/router.js';
import { pgSslOptions } from './source/pg-tls.js';

/** The filter and routing settings of a configuration (what a reload applies). */
export function routeSettings(config: Config): RouteSettings {
  return {
    topicPrefix: config.nats.topicPrefix,
    tables: config.database.filter.tables,
    messages: config.database.filter.messages,
    transactionEvents: config.nats.transactionEvents,
  };
}

/** Maps the configuration onto what the pipeline needs. */
export function pipelineSettings(config: Config): PipelineSettings {
  const { database, listener, nats } = config;
  return {
    pg: {
      host: database.host,
      port: database.port,
      database: database.name,
      user: database.user,
      password: database.password,
      ssl: pgSslOptions(database),
    },
    slot: { slot: listener.slotName, publication: listener.publication },
    maxInFlight: nats.maxInFlight,
    ackTimeoutMs: nats.ackTimeout,
    stream: nats.stream && {
      name: nats.stream.name,
      subjects: nats.stream.subjects,
      storage: nats.stream.storage,
      duplicateWindowMs: nats.stream.duplicateWindow,
      replicas: nats.stream.replicas,
    },
    routes: routeSettings(config),
    shutdownTimeoutMs: listener.shutdownTimeout,
  };
}

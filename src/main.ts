#!/usr/bin/env node
/**
 * pgwalstreams: wiring, signals and exit codes. No logic lives here.
 *
 * Exit codes: 0 after a clean stop (SIGTERM, SIGINT), 1 on a fatal error at run time,
 * 2 on a usage or configuration error.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { parseCommand, runCommand } from './cli.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { ConfigError } from './errors.js';
import { createLogger, type Logger } from './ops/log.js';
import { Pipeline, type PipelineSettings } from './pipeline.js';
import { natsConnectOptions, openNatsConnection } from './sink/nats-options.js';
import { pgSslOptions } from './source/pg-tls.js';

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
    routes: {
      topicPrefix: nats.topicPrefix,
      tables: database.filter.tables,
      messages: database.filter.messages,
    },
    transactionEvents: nats.transactionEvents,
    shutdownTimeoutMs: listener.shutdownTimeout,
  };
}

async function connectNats(config: Config, log: Logger): Promise<NatsConnection> {
  const nc = await openNatsConnection(
    {
      ...natsConnectOptions(config.nats),
      name: 'pgwalstreams',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    },
    config.nats,
  );
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') log.warn({ server: s.server }, 'nats disconnected');
      else if (s.type === 'reconnect') log.info({ server: s.server }, 'nats reconnected');
    }
  })();
  log.info({ server: nc.getServer() }, 'nats connected');
  return nc;
}

async function run(configPath: string): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(configPath);
  } catch (err) {
    process.stderr.write(`pgwalstreams: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const log = createLogger(config.logger);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: string) => {
    signals++;
    if (signals === 1) {
      log.info({ signal: name }, 'stopping: waiting for outstanding pubacks');
      controller.abort();
    } else {
      log.warn({ signal: name }, 'second signal: exiting now; unacknowledged events are not confirmed');
      process.exit(130);
    }
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  let nc: NatsConnection | undefined;
  try {
    nc = await connectNats(config, log);
    const pipeline = new Pipeline(pipelineSettings(config), nc, log);
    await pipeline.run(controller.signal);
    log.info('stopped');
    return 0;
  } catch (err) {
    log.fatal({ err }, err instanceof Error ? err.message : 'fatal error');
    return err instanceof ConfigError ? 2 : 1;
  } finally {
    await nc?.drain().catch(() => {});
    log.flush();
  }
}

const command = parseCommand(process.argv.slice(2), process.env);
process.exitCode = command.kind === 'run' ? await run(command.config) : await runCommand(command, process);

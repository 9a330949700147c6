/**
 * `pgwalstreams run`: the service. Wires the parts together, handles signals (SIGTERM and SIGINT
 * stop, a second one exits at once; SIGHUP reloads) and turns the outcome into an exit status:
 * 0 after a clean stop, 1 on a fatal error at run time, 2 on a configuration error. No logic of
 * the pipeline lives here.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Server } from 'node:http';
import type { CliIo } from '../cli.js';
import { loadConfigText } from '../config/load.js';
import { natsConnectOptions } from '../config/nats-options.js';
import { ConfigReloader } from '../config/reload.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { startHttpServer } from '../ops/http.js';
import { ReadinessWatch } from '../ops/readiness.js';
import { createLogger, type Logger } from '../ops/log.js';
import { Metrics } from '../ops/metrics.js';
import { SlotMonitor } from '../ops/slot-monitor.js';
import { BackfillRunner } from '../backfill/runner.js';
import { Pipeline } from '../pipeline.js';
import { JetStreamSinkFactory } from '../sink/jetstream-sink.js';
import { NatsLink, openNatsConnection } from '../sink/nats-connection.js';
import { natsInternals } from '../sink/nats-internals.js';
import { openReplicationSource } from '../source/replication-connection.js';
import { routeSettings, serviceSettings } from './settings.js';

/** How long NATS may leave a ping unanswered before the service is not ready. */
const NATS_SILENT_MS = 3000;

async function connectNats(
  config: Config,
  log: Logger,
  metrics: Metrics,
): Promise<{ nc: NatsConnection; link: NatsLink }> {
  const nc = await openNatsConnection(
    {
      ...natsConnectOptions(config.nats),
      name: 'pgwalstreams',
      // Replies to pgwalstreams' own requests come back under the same prefix as its PubAcks.
      inboxPrefix: '_pgw',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    },
    config.nats,
  );
  metrics.natsConnected.set(1);
  const link = new NatsLink(nc, {
    changed: (up, server) => {
      metrics.natsConnected.set(up ? 1 : 0);
      if (up) log.info({ server }, 'nats reconnected');
      else log.warn({ server }, 'nats disconnected');
    },
  });
  log.info({ server: nc.getServer() }, 'nats connected');
  return { nc, link };
}

/** Runs the service with the configuration at `configPath` until a signal stops it; returns the exit status. */
export async function runService(configPath: string, io: CliIo): Promise<number> {
  let config: Config;
  let configText: string;
  try {
    ({ config, text: configText } = await loadConfigText(configPath, io.env));
  } catch (err) {
    io.stderr.write(`pgwalstreams: ${err instanceof Error ? err.message : String(err)}\n`);
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
  let reloader: ConfigReloader | undefined;
  process.on('SIGHUP', () => {
    log.info('sighup: reading the configuration file');
    void reloader?.check();
  });

  const metrics = new Metrics();
  let nc: NatsConnection | undefined;
  let link: NatsLink | undefined;
  let pipeline: Pipeline | undefined;
  let http: Server | undefined;
  let monitor: SlotMonitor | undefined;
  const settings = serviceSettings(config);
  const ackTimeoutMs = settings.sink.ackTimeoutMs;
  const readiness = new ReadinessWatch(
    {
      state: () => (link ? pipeline?.state : undefined),
      natsUp: () => link?.up ?? false,
      natsSilentMs: () => link?.silentMs() ?? 0,
      oldestUnackedMs: () => pipeline?.oldestUnackedMs() ?? 0,
    },
    // A PubAck normally takes milliseconds; half the ack timeout (at least a second) is overdue.
    { natsSilentMs: NATS_SILENT_MS, pubAckOverdueMs: Math.max(1000, ackTimeoutMs / 2) },
    metrics,
    log,
  );
  try {
    if (config.listener.serverPort > 0) {
      http = await startHttpServer(config.listener.serverPort, metrics, () => {
        const { ready, detail } = readiness.look();
        return { ready, reason: detail };
      });
      log.info({ port: config.listener.serverPort }, 'http server listening: /healthz /readyz /metrics');
    }
    monitor = new SlotMonitor(
      settings.pg,
      {
        slot: config.listener.slotName,
        intervalMs: config.listener.slotCheckInterval,
        warnRetainedBytes: config.listener.retainedWalWarning,
        heartbeatMs: config.listener.heartbeatInterval,
      },
      metrics,
      log,
    );
    ({ nc, link } = await connectNats(config, log, metrics));
    const internals = natsInternals(nc); // a NATS client without them stops the start here
    const sinks = new JetStreamSinkFactory(nc, link, internals, settings.sink, log);
    const backfills = new BackfillRunner(settings.backfill, settings.pg, settings.slot, nc, log, metrics);
    const exportSnapshot = backfills.wantsInitialSnapshot
      ? { beforeCreate: () => backfills.beforeSlotCreated() }
      : undefined;
    pipeline = new Pipeline(
      settings.pipeline,
      {
        openSource: () => openReplicationSource(settings.pg, settings.slot, { exportSnapshot }),
        sinks,
        backfills,
      },
      log,
      metrics,
    );
    const running = pipeline;
    reloader = new ConfigReloader(
      configPath,
      config,
      configText,
      (reloadable, next) => {
        running.setRoutes(routeSettings(next));
        log.level = reloadable.logLevel;
      },
      log,
      metrics,
    );
    log.info({ path: configPath, hash: reloader.hash }, 'watching the configuration file');
    await pipeline.run(controller.signal);
    log.info('stopped');
    return 0;
  } catch (err) {
    log.fatal({ err }, err instanceof Error ? err.message : 'fatal error');
    return err instanceof ConfigError ? 2 : 1;
  } finally {
    reloader?.close();
    readiness.close();
    link?.close();
    await monitor?.close();
    await nc?.drain().catch(() => {});
    http?.close();
    log.flush();
  }
}

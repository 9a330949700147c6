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
import { createLogger, type Logger } from '../ops/log.js';
import { Metrics } from '../ops/metrics.js';
import { SlotMonitor } from '../ops/slot-monitor.js';
import { Pipeline } from '../pipeline.js';
import { JetStreamSinkFactory } from '../sink/jetstream-sink.js';
import { openNatsConnection } from '../sink/nats-connection.js';
import { natsInternals } from '../sink/nats-internals.js';
import { openReplicationSource } from '../source/replication-connection.js';
import { routeSettings, serviceSettings } from './settings.js';

/** Whether the NATS connection is up right now (kept by `connectNats`). */
const natsLink = { up: false };

async function connectNats(config: Config, log: Logger, metrics: Metrics): Promise<NatsConnection> {
  const nc = await openNatsConnection(
    {
      ...natsConnectOptions(config.nats),
      name: 'pgwalstreams',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
    },
    config.nats,
  );
  const link = (up: boolean) => {
    natsLink.up = up;
    metrics.natsConnected.set(up ? 1 : 0);
  };
  link(true);
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') {
        link(false);
        log.warn({ server: s.server }, 'nats disconnected');
      } else if (s.type === 'reconnect') {
        link(true);
        log.info({ server: s.server }, 'nats reconnected');
      }
    }
  })();
  log.info({ server: nc.getServer() }, 'nats connected');
  return nc;
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
  let pipeline: Pipeline | undefined;
  let http: Server | undefined;
  let monitor: SlotMonitor | undefined;
  try {
    if (config.listener.serverPort > 0) {
      http = await startHttpServer(config.listener.serverPort, metrics, () => readiness(pipeline));
      log.info({ port: config.listener.serverPort }, 'http server listening: /healthz /readyz /metrics');
    }
    const settings = serviceSettings(config);
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
    nc = await connectNats(config, log, metrics);
    const internals = natsInternals(nc); // a NATS client without them stops the start here
    const sinks = new JetStreamSinkFactory(nc, internals, settings.sink, log);
    pipeline = new Pipeline(
      settings.pipeline,
      { openSource: () => openReplicationSource(settings.pg, settings.slot), sinks },
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
    await monitor?.close();
    await nc?.drain().catch(() => {});
    http?.close();
    log.flush();
  }
}

/** Ready when replicating and connected to NATS; the reason says what is missing. */
function readiness(pipeline: Pipeline | undefined): { ready: boolean; reason: string } {
  if (!pipeline) return { ready: false, reason: 'starting' };
  if (!natsLink.up) return { ready: false, reason: 'nats disconnected' };
  if (pipeline.state === 'standby')
    return { ready: false, reason: 'standby: another instance holds the slot' };
  if (pipeline.state !== 'replicating')
    return { ready: false, reason: `not replicating (${pipeline.state})` };
  return { ready: true, reason: 'replicating' };
}

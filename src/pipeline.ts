/**
 * The pipeline: replication sessions, one after the other, until a stop or a fatal failure.
 *
 * A `Session` (session.ts) reads the slot from its confirmed position: frames → decode →
 * transaction → route → publish → checkpoint. Any retryable failure (PostgreSQL or NATS
 * unreachable, a publish not acknowledged) ends the session without confirming anything
 * unacknowledged; a new session starts after a backoff and resumes from the slot, and JetStream
 * drops the events it already has by their `Nats-Msg-Id`. While another instance holds the slot,
 * this one waits as a standby.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackfillRunner } from './backfill/runner.js';
import { isRetryable, ReplicationError } from './errors.js';
import type { Logger } from './ops/log.js';
import type { Metrics } from './ops/metrics.js';
import { Router, type RouteSettings } from './route/router.js';
import { Session, type SessionSettings } from './session.js';
import type { SinkFactory } from './sink/sink.js';
import { formatLsn } from './source/lsn.js';
import type { ReplicationSource } from './source/replication-source.js';
import { TypeCatalog } from './source/type-catalog.js';

/** Everything the pipeline needs to know, taken from the configuration. */
export interface PipelineSettings extends SessionSettings {
  /** Filter and routing; replaced on a reload by `setRoutes`. */
  routes: RouteSettings;
}

/** Where sessions come from: PostgreSQL's side and the sink's, opened anew for each session. */
export interface PipelineParts {
  /** Opens the slot for a session (creating the publication and slot when absent). */
  openSource(): Promise<ReplicationSource>;
  sinks: SinkFactory;
  /** Snapshots and backfills; absent: none. */
  backfills?: BackfillRunner | undefined;
}

/** What the pipeline is doing. */
export type PipelineState = 'starting' | 'replicating' | 'standby' | 'retrying' | 'stopped' | 'failed';

const STANDBY_POLL_MS = 1000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The replication-to-JetStream loop, with retries. */
export class Pipeline {
  private router: Router;
  private readonly catalog = new TypeCatalog();
  private current: PipelineState = 'starting';
  private active: Session | null = null;

  constructor(
    private readonly settings: PipelineSettings,
    private readonly parts: PipelineParts,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.router = new Router(settings.routes);
    metrics.inFlightLimit.set(settings.maxInFlight);
  }

  /** What the pipeline is doing now (readiness is `replicating`). */
  get state(): PipelineState {
    return this.current;
  }

  /** How long the oldest event of the session not yet acknowledged has waited, in ms (0 when none). */
  oldestUnackedMs(): number {
    return this.active?.oldestUnackedMs() ?? 0;
  }

  private setState(state: PipelineState): void {
    this.current = state;
    this.metrics.replicating.set(state === 'replicating' ? 1 : 0);
    this.metrics.standby.set(state === 'standby' ? 1 : 0);
  }

  /** Replaces the filter and routing; takes effect from the next change. Never rewinds the slot. */
  setRoutes(routes: RouteSettings): void {
    this.router = new Router(routes);
  }

  /**
   * Runs until `signal` aborts (then stops gracefully and resolves) or a failure that a retry
   * cannot fix (then rejects with it).
   */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const progress = { made: false };
      try {
        await this.session(signal, progress);
        this.setState('stopped');
        return;
      } catch (err) {
        this.metrics.postgresConnected.set(0);
        if (signal.aborted && isRetryable(err)) break;
        if (!isRetryable(err)) {
          this.setState('failed');
          throw err;
        }
        if (err instanceof ReplicationError && err.slotBusy) {
          // Another instance holds the slot: wait as a standby, looking every second, and take
          // over as soon as the slot is free. Nothing is published meanwhile.
          if (this.current !== 'standby') {
            this.log.info(
              { slot: this.settings.slot.slot, reason: err.message },
              'standby: another instance holds the slot',
            );
          }
          this.setState('standby');
          await sleep(STANDBY_POLL_MS, undefined, { signal }).catch(() => {});
          continue;
        }
        this.setState('retrying');
        this.metrics.sessionRetries.labels(err instanceof Error ? err.name : 'Error').inc();
        if (progress.made) attempt = 0;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt++) * (0.5 + Math.random() / 2);
        this.log.warn({ err, retryInMs: Math.round(delay) }, 'replication session failed, retrying');
        await sleep(delay, undefined, { signal }).catch(() => {});
      }
    }
    this.setState('stopped');
  }

  /** One replication session, from the slot's confirmed position until a stop or a failure. */
  private async session(signal: AbortSignal, progress: { made: boolean }): Promise<void> {
    const { settings, log, parts } = this;
    let source;
    try {
      source = await parts.openSource();
    } catch (err) {
      if (signal.aborted) return; // a stop during start-up is a stop, whatever else went wrong
      throw err;
    }
    if (source.created.publication)
      log.info({ publication: settings.slot.publication }, 'publication created');
    if (source.created.slot) log.info({ slot: settings.slot.slot }, 'replication slot created');
    if (signal.aborted) return source.close();
    const session = new Session(settings, {
      source,
      sinks: parts.sinks,
      backfills: parts.backfills,
      catalog: this.catalog,
      router: () => this.router,
      log,
      metrics: this.metrics,
    });
    this.active = session;
    try {
      await session.run(signal, () => {
        const tookOver = this.current === 'standby';
        this.setState('replicating');
        this.metrics.postgresConnected.set(1);
        log.info(
          {
            slot: settings.slot.slot,
            publication: settings.slot.publication,
            startLsn: formatLsn(source.start),
            tookOver,
          },
          'replication started',
        );
      });
    } finally {
      this.active = null;
      progress.made = session.progressMade;
    }
  }
}

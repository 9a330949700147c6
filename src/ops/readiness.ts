/**
 * Readiness that means "events are being stored": replicating, connected to NATS, NATS answering
 * its pings, and no PubAck overdue. Looked at every half second: the gauge
 * `pgwalstreams_ready{reason}` holds 1 for the reason in force, and each change is logged once.
 */
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** Why the service is (not) ready: the labels of `pgwalstreams_ready`. */
export const READY_REASONS = [
  'replicating',
  'starting',
  'standby',
  'not_replicating',
  'nats_disconnected',
  'nats_not_answering',
  'pubacks_overdue',
] as const;

export type ReadyReason = (typeof READY_REASONS)[number];

/** What readiness is judged on, read at each look. */
export interface ReadinessInputs {
  /** The pipeline's state, or undefined before it exists. */
  state(): string | undefined;
  natsUp(): boolean;
  /** How long since NATS last answered a ping, in ms. */
  natsSilentMs(): number;
  /** How long the oldest unacknowledged event has waited, in ms (0 when none). */
  oldestUnackedMs(): number;
}

/** The verdict: ready or not, its reason, and words for `/readyz` and the log. */
export interface Verdict {
  ready: boolean;
  reason: ReadyReason;
  detail: string;
}

/** How long silence or a wait for a PubAck is tolerated before readiness ends. */
export interface ReadinessLimits {
  natsSilentMs: number;
  pubAckOverdueMs: number;
}

/** The readiness of the service now. */
export function judge(inputs: ReadinessInputs, limits: ReadinessLimits): Verdict {
  const state = inputs.state();
  if (state === undefined) return { ready: false, reason: 'starting', detail: 'starting' };
  if (!inputs.natsUp()) return { ready: false, reason: 'nats_disconnected', detail: 'nats disconnected' };
  const silent = inputs.natsSilentMs();
  if (silent > limits.natsSilentMs) {
    return {
      ready: false,
      reason: 'nats_not_answering',
      detail: `nats connected but not answering (no reply to a ping for ${(silent / 1000).toFixed(1)} s)`,
    };
  }
  if (state === 'standby') {
    return { ready: false, reason: 'standby', detail: 'standby: another instance holds the slot' };
  }
  if (state !== 'replicating') {
    return { ready: false, reason: 'not_replicating', detail: `not replicating (${state})` };
  }
  const waited = inputs.oldestUnackedMs();
  if (waited > limits.pubAckOverdueMs) {
    return {
      ready: false,
      reason: 'pubacks_overdue',
      detail: `pubacks overdue: the oldest unacknowledged event has waited ${(waited / 1000).toFixed(1)} s`,
    };
  }
  return { ready: true, reason: 'replicating', detail: 'replicating' };
}

const LOOK_MS = 500;

/** Looks at readiness periodically, keeps the gauge and logs each change of reason. */
export class ReadinessWatch {
  private current: Verdict | null = null;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly inputs: ReadinessInputs,
    private readonly limits: ReadinessLimits,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => this.look(), LOOK_MS).unref();
    this.look();
  }

  /** The verdict now (looked at afresh). */
  look(): Verdict {
    const verdict = judge(this.inputs, this.limits);
    const before = this.current;
    this.current = verdict;
    if (before?.reason !== verdict.reason) {
      for (const r of READY_REASONS) this.metrics.ready.labels(r).set(r === verdict.reason ? 1 : 0);
      if (before !== null && verdict.ready)
        this.log.info({ reason: verdict.reason }, 'ready: events are being stored');
      else if (before !== null && before.ready) {
        this.log.warn({ reason: verdict.reason }, `not ready: ${verdict.detail}`);
      }
    }
    return verdict;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

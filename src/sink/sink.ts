/**
 * The seam between a replication session and where its events go. `JetStreamSink` is the one
 * implementation; a session is given a `SinkFactory` and opens one sink for its lifetime.
 *
 * Contract: an event counts as stored only when the sink calls `acked` for its number. Acks may
 * come in any order, late, or never; the session confirms a commit to PostgreSQL only when every
 * event up to it is acked, so a sink that loses an ack holds the slot back and loses nothing. A
 * sink that cannot store an event calls `failed` once and accepts nothing more; the session then
 * ends and the slot is replayed from its confirmed position. A sink that knows which replayed
 * events the destination holds already says so with `stored` instead of sending them again.
 */
import type { PgwalstreamsError } from '../errors.js';
import type { EventSeq } from '../checkpoint/checkpointer.js';
import type { EventMeta } from '../event/change-event.js';

/** Callbacks from a sink to its session. */
export interface SinkListener {
  /** The destination stored event `seq` (or already had it), `latencyMs` after it was published. */
  acked(seq: EventSeq, latencyMs: number): void;
  /** The destination held event `seq` already, from an earlier session: it was not sent again. */
  stored(seq: EventSeq): void;
  /**
   * An event could not be stored. Called at most once; the sink is unusable afterwards. A
   * retryable error ends the session (it is retried); any other stops the service.
   */
  failed(err: PgwalstreamsError): void;
}

/** Where one session's events go. */
export interface Sink {
  /**
   * Sends event `seq` (numbered in publish order by the session) to `subject`. `payload` is only
   * valid during the call: the sink copies what it keeps. Never throws for a publish that fails
   * later: that is reported through `SinkListener.failed`.
   */
  publish(seq: EventSeq, subject: string, payload: Uint8Array, meta: EventMeta): void;
  /** How long the oldest event not yet acknowledged has waited, in ms; 0 when none waits. */
  oldestUnackedMs(now: number): number;
  /** Stops listening for acks. Unacknowledged events stay unacknowledged. */
  close(): void;
}

/** Who publishes: the database (the namespace of its event ids) and the slot. */
export interface SourceIdentity {
  namespace: number;
  slot: string;
}

/** What the sink of a session publishes for. */
export interface SinkScope {
  /** Every subject of the session starts with `<topicPrefix>.`. */
  topicPrefix: string;
  source: SourceIdentity;
  /** False when the slot was created for this session: nothing it sends can be stored yet. */
  replay: boolean;
}

/** Opens a sink for each replication session. */
export interface SinkFactory {
  /**
   * Makes the destination ready (for JetStream: creates the configured stream when missing, and
   * reads what its streams hold of `scope.source`) and opens a sink that reports to `listener`.
   * A rejection with a retryable error ends the session and is retried; any other stops the service.
   */
  open(listener: SinkListener, scope: SinkScope): Promise<Sink>;
}

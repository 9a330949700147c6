/**
 * When to send a Standby Status Update: the cadence of a session's replies to the walsender.
 *
 * A session looks every `STATUS_CHECK_MS`. An update is sent when the flush position moved since
 * the last one, and every `STATUS_HEARTBEAT_MS` regardless, so that the walsender does not time
 * out while publishing is held back; those periodic updates ask for a keepalive back, whose
 * position lets an idle slot advance. An update is also sent at once, without asking, when the
 * walsender asks for one and when the session ends.
 */
import type { FlushLsn } from './lsn.js';

/** How often a session looks whether a status update is due. */
export const STATUS_CHECK_MS = 500;
/** The longest time between two status updates. */
export const STATUS_HEARTBEAT_MS = 10_000;

/** What was last sent, and so whether the next periodic update is due. */
export class StatusCadence {
  private sentFlush: FlushLsn | null = null;
  private sentAt = -Infinity;

  /** True when the periodic look at `now` (ms) should send `flush`. */
  due(flush: FlushLsn, now: number): boolean {
    return flush !== this.sentFlush || now - this.sentAt >= STATUS_HEARTBEAT_MS;
  }

  /**
   * Records an update of `flush` sent at `now` (ms). Returns true when it confirmed a position
   * other than the update before it: the session made progress.
   */
  sent(flush: FlushLsn, now: number): boolean {
    const moved = this.sentFlush !== null && flush !== this.sentFlush;
    this.sentFlush = flush;
    this.sentAt = now;
    return moved;
  }
}

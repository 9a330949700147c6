/**
 * Runs snapshots and backfills for the session that holds the slot (work in progress).
 */
import type { ProgressSettings } from './progress.js';

/** What backfills need from the configuration. */
export interface BackfillSettings extends ProgressSettings {
  /** How long one chunk's query should take; the chunk size adapts to it. */
  chunkTimeMs: number;
  /** Most rows in one chunk. */
  maxChunkRows: number;
  /** `listener.snapshot: initial`: snapshot the published tables when the slot is created. */
  initialSnapshot: boolean;
}

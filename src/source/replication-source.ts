/**
 * The seam between a replication session and PostgreSQL: one slot's stream, opened and prepared.
 * `openReplicationSource` (replication-connection.ts) opens the real one; unit tests feed a session
 * frames through their own.
 */
import type { ReplicationError } from '../errors.js';
import type { StandbyPositions } from './frames.js';
import type { FlushLsn, Lsn } from './lsn.js';
import type { ReadTypes } from './type-catalog.js';

/** Callbacks of a replication stream. */
export interface ReplicationListener {
  /** One CopyData payload (an XLogData or keepalive frame). */
  frame(data: Buffer): void;
  /** The stream ended or failed; called once. */
  closed(err: ReplicationError): void;
}

/** The snapshot a slot was created with (`CREATE_REPLICATION_SLOT … (SNAPSHOT 'export')`). */
export interface ExportedSnapshot {
  /** What `SET TRANSACTION SNAPSHOT` takes; valid until the replication connection's next command. */
  name: string;
  /** The slot's consistent point: the snapshot shows every transaction committed before it. */
  consistentPoint: Lsn;
}

/** One session's view of the slot: its stream, its status updates, the catalog. */
export interface ReplicationSource {
  /** The database system identifier (IDENTIFY_SYSTEM), which namespaces event ids. */
  readonly systemId: string;
  /** The slot's confirmed position: where the stream starts. */
  readonly start: FlushLsn;
  /** Whether the start created the slot and the publication. */
  readonly created: { readonly slot: boolean; readonly publication: boolean };
  /** The snapshot the slot was created with by this session, or null. */
  readonly exported: ExportedSnapshot | null;
  /**
   * Resolves once the stream holds the slot (after `stream`); fails with a `slotBusy` error when
   * another connection took it first.
   */
  holdSlot(): Promise<void>;
  /** Starts streaming from `start`; frames and the end of the stream go to `listener`. */
  stream(listener: ReplicationListener): void;
  /** Sends a Standby Status Update (`replyRequested`: ask for a keepalive back). */
  sendStatus(positions: StandbyPositions, replyRequested: boolean): void;
  /** Stops delivering frames until `resume`; the socket is not read meanwhile. */
  pause(): void;
  /** Delivers frames again after `pause`. */
  resume(): void;
  /** Reads type information from the catalog, over the session's SQL connection. */
  readonly readTypes: ReadTypes;
  /** Ends the stream and closes every connection; no frame is delivered afterwards. */
  close(): Promise<void>;
}

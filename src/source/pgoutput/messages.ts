/**
 * The pgoutput messages (protocol version 1), as a tagged union.
 *
 * See https://www.postgresql.org/docs/current/protocol-logicalrep-message-formats.html
 */
import type { CommitEndLsn, CommitLsn, Lsn } from '../lsn.js';
import type { Tuple } from './tuple.js';

/** Marker for a column whose TOASTed value did not change (`u` in TupleData): the value is not sent. */
export const UNCHANGED_TOAST: unique symbol = Symbol('unchanged-toast');

/**
 * One column value of a TupleData: text (`t`), binary (`b`, only with the `binary` option),
 * SQL NULL (`n`), or an unchanged TOAST value that was not sent (`u`).
 */
export type TupleValue = string | Uint8Array | null | typeof UNCHANGED_TOAST;

/** The values of one row, in the column order of its Relation message (see `tuple.ts`). */
export type { Tuple };

/** Which old row image a message carries: the replica identity key (`K`) or the full row (`O`). */
export const OldTupleKind = { Key: 'key', Full: 'full' } as const;
export type OldTupleKind = (typeof OldTupleKind)[keyof typeof OldTupleKind];

/** Begin (`B`): a transaction starts. */
export interface BeginMessage {
  tag: 'begin';
  /** LSN of the commit record of this transaction. */
  finalLsn: CommitLsn;
  /** Commit timestamp, microseconds since 2000-01-01 00:00:00 UTC. */
  commitTime: bigint;
  xid: number;
}

/** Commit (`C`): the transaction's changes are complete. */
export interface CommitMessage {
  tag: 'commit';
  flags: number;
  /** LSN of the commit record (equals Begin.finalLsn). */
  commitLsn: CommitLsn;
  /** End LSN of the transaction: the position to confirm once its events are stored. */
  endLsn: CommitEndLsn;
  /** Commit timestamp, microseconds since 2000-01-01 00:00:00 UTC. */
  commitTime: bigint;
}

/** Origin (`O`): the transaction was replicated from another node. */
export interface OriginMessage {
  tag: 'origin';
  originLsn: Lsn;
  name: string;
}

/** One column of a Relation message. */
export interface RelationColumn {
  /** True when the column is part of the replica identity key (flag bit 1). */
  isKey: boolean;
  name: string;
  typeOid: number;
  typeMod: number;
}

/** Relation (`R`): the shape of a table, sent before its first change and after a schema change. */
export interface RelationMessage {
  tag: 'relation';
  relationId: number;
  /** Schema name; pgoutput sends an empty string for `pg_catalog`, which the decoder fills in. */
  schema: string;
  name: string;
  /** Replica identity setting: `d` default, `n` nothing, `f` full, `i` index. */
  replicaIdentity: string;
  columns: RelationColumn[];
}

/** Type (`Y`): the name of a non-built-in data type used by a following Relation. */
export interface TypeMessage {
  tag: 'type';
  typeOid: number;
  schema: string;
  name: string;
}

/** Insert (`I`): a new row. */
export interface InsertMessage {
  tag: 'insert';
  relationId: number;
  newTuple: Tuple;
}

/** Update (`U`): a changed row, with the old key or old row when the server sends one. */
export interface UpdateMessage {
  tag: 'update';
  relationId: number;
  oldKind: OldTupleKind | null;
  oldTuple: Tuple | null;
  newTuple: Tuple;
}

/** Delete (`D`): a removed row, identified by its old key or old row. */
export interface DeleteMessage {
  tag: 'delete';
  relationId: number;
  oldKind: OldTupleKind;
  oldTuple: Tuple;
}

/** Truncate (`T`): one or more tables were truncated. */
export interface TruncateMessage {
  tag: 'truncate';
  cascade: boolean;
  restartIdentity: boolean;
  relationIds: number[];
}

/** Message (`M`): a `pg_logical_emit_message` payload (needs the `messages` option). */
export interface LogicalMessage {
  tag: 'message';
  transactional: boolean;
  lsn: Lsn;
  prefix: string;
  content: Uint8Array;
}

/** Any pgoutput protocol-1 message. */
export type PgoutputMessage =
  | BeginMessage
  | CommitMessage
  | OriginMessage
  | RelationMessage
  | TypeMessage
  | InsertMessage
  | UpdateMessage
  | DeleteMessage
  | TruncateMessage
  | LogicalMessage;

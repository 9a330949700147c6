/**
 * Transaction assembly: folds pgoutput messages into row changes, one at a time.
 *
 * Nothing is buffered per transaction: each Insert, Update, Delete or Truncate becomes a
 * `Change` as soon as it is decoded, so memory does not grow with transaction size. With
 * pgoutput protocol 1 the server sends a transaction only once it has committed, so every
 * change seen here belongs to a committed transaction.
 *
 * Transactional logical messages (`pg_logical_emit_message(true, …)`) take a position in their
 * transaction like row changes; non-transactional ones arrive between transactions.
 */
import { DecodeError } from '../errors.js';
import { formatLsn, type CommitLsn } from '../source/lsn.js';
import { formatPgTimestamp, PG_EPOCH_MS } from '../source/pg-time.js';
import type {
  CommitMessage,
  LogicalMessage,
  OldTupleKind,
  PgoutputMessage,
  RelationMessage,
  Tuple,
} from '../source/pgoutput/messages.js';
import type { TypeLookup } from '../source/type-info.js';
import { Action } from './action.js';
import { transactionIdPrefix, type TransactionIdPrefix } from './event-id.js';
import { byteWriter, valueWriter, type ByteWriter, type ValueWriter } from './values.js';

/** A column of a relation, with what the event encoder needs precomputed. */
export interface Column {
  name: string;
  /** The column name as a JSON string followed by `:`, in UTF-8, ready to write into an object. */
  jsonKey: Buffer;
  typeOid: number;
  isKey: boolean;
  write: ValueWriter;
  /** Writes the JSON of text that needs no rewriting straight from its bytes (see `ByteWriter`). */
  writeBytes: ByteWriter | null;
}

/** A table as last described by a Relation message. */
export interface Relation {
  id: number;
  schema: string;
  table: string;
  /** `"schema":…,"table":…` as written in every event of the table, in UTF-8. */
  jsonNames: Buffer;
  replicaIdentity: string;
  columns: Column[];
}

/** The transaction a change belongs to. */
export interface TransactionInfo {
  xid: number;
  commitLsn: CommitLsn;
  /** Commit LSN as `X/Y`. */
  lsnText: string;
  /** Commit time, RFC 3339 UTC with microseconds. */
  commitTime: string;
  /** Commit time in milliseconds since the Unix epoch. */
  commitTimeMs: number;
  idPrefix: TransactionIdPrefix;
}

/**
 * One row change (or one truncated table), ready to be routed and encoded. Its id (the
 * `Nats-Msg-Id`) is `eventId(tx.idPrefix, position)`, written as bytes where it is sent.
 */
export interface RowChange {
  kind: 'row';
  /** 0-based position of the change in its transaction, counting every change, published or not. */
  position: number;
  action: Action;
  relation: Relation;
  tx: TransactionInfo;
  newTuple: Tuple | null;
  oldKind: OldTupleKind | null;
  oldTuple: Tuple | null;
  /** Truncate options; present on TRUNCATE changes only. */
  truncate: { cascade: boolean; restartIdentity: boolean } | null;
}

/**
 * A `pg_logical_emit_message` message, in its transaction or on its own. Its id is (commit LSN,
 * position) in a transaction, (message LSN, `NON_TRANSACTIONAL`) otherwise.
 */
export interface MessageChange {
  kind: 'message';
  /** The prefix of its id: the transaction's, or the message LSN's for a non-transactional message. */
  idPrefix: TransactionIdPrefix;
  /** Position in the transaction; `null` for a non-transactional message. */
  position: number | null;
  /** The transaction; `null` for a non-transactional message. */
  tx: TransactionInfo | null;
  /** The message's own LSN, as `X/Y`. */
  lsnText: string;
  prefix: string;
  content: Uint8Array;
}

/** Anything a transaction (or the stream between transactions) carries that may be published. */
export type Change = RowChange | MessageChange;

/**
 * The row change with copies of its tuples, for a change kept past the handling of its message
 * (its values otherwise point into the message's bytes, which are reused).
 */
export function detachRow(change: RowChange): RowChange {
  return {
    ...change,
    newTuple: change.newTuple?.detach() ?? null,
    oldTuple: change.oldTuple?.detach() ?? null,
  };
}

/** A transaction that has begun and not yet committed, as seen so far. */
export interface OpenTransaction {
  info: TransactionInfo;
  /** Changes (and transactional messages) seen so far: the next change's position. */
  changeCount: number;
}

/** Position used in the id of a non-transactional message (never reached by a real position). */
export const NON_TRANSACTIONAL = 0xffffffff;
/** Position used in the id of a transaction's commit marker. */
export const COMMIT_MARKER = 0xfffffffe;

/** Keeps the relation cache and the open transaction; turns messages into changes. */
export class TransactionAssembler {
  private readonly relations = new Map<number, Relation>();
  private tx: TransactionInfo | null = null;
  private position = 0;

  /**
   * @param namespace the 26-bit namespace of event ids (see `systemNamespace`).
   * @param types catalog information for types that are not built in.
   */
  constructor(
    private readonly namespace: number,
    private readonly types?: TypeLookup,
  ) {}

  /** True between a Begin and its Commit. */
  get inTransaction(): boolean {
    return this.tx !== null;
  }

  /** The open transaction, or `null` between transactions. */
  get openTransaction(): OpenTransaction | null {
    return this.tx && { info: this.tx, changeCount: this.position };
  }

  /**
   * Applies one message. Returns the changes it produced (none for Begin, Commit, Relation,
   * Type, Origin and Message; one per table for Truncate).
   */
  apply(msg: PgoutputMessage): Change[] {
    switch (msg.tag) {
      case 'begin':
        if (this.tx) throw new DecodeError('begin inside an open transaction', 'B', 0);
        this.tx = {
          xid: msg.xid,
          commitLsn: msg.finalLsn,
          lsnText: formatLsn(msg.finalLsn),
          commitTime: formatPgTimestamp(msg.commitTime),
          commitTimeMs: Number(msg.commitTime / 1000n) + PG_EPOCH_MS,
          idPrefix: transactionIdPrefix(this.namespace, msg.finalLsn),
        };
        this.position = 0;
        return [];
      case 'commit':
        this.commit(msg);
        return [];
      case 'relation':
        this.relations.set(msg.relationId, toRelation(msg, this.types));
        return [];
      case 'type':
      case 'origin':
        return [];
      case 'message':
        return [this.message(msg)];
      case 'insert':
        return [this.change(Action.Insert, msg.relationId, msg.newTuple, null, null, 'I')];
      case 'update':
        return [this.change(Action.Update, msg.relationId, msg.newTuple, msg.oldKind, msg.oldTuple, 'U')];
      case 'delete':
        return [this.change(Action.Delete, msg.relationId, null, msg.oldKind, msg.oldTuple, 'D')];
      case 'truncate': {
        const options = { cascade: msg.cascade, restartIdentity: msg.restartIdentity };
        return msg.relationIds.map((id) => {
          const c = this.change(Action.Truncate, id, null, null, null, 'T');
          c.truncate = options;
          return c;
        });
      }
    }
  }

  /** Builds the value writers of a relation again, from the current type information. */
  rebuildWriters(relation: Relation): void {
    for (const column of relation.columns) {
      column.write = valueWriter(column.typeOid, this.types);
      column.writeBytes = byteWriter(column.write);
    }
  }

  private commit(msg: CommitMessage): void {
    if (!this.tx) throw new DecodeError('commit without begin', 'C', 0);
    if (this.tx.commitLsn !== msg.commitLsn) {
      throw new DecodeError(
        `commit LSN ${formatLsn(msg.commitLsn)} does not match begin's ${this.tx.lsnText}`,
        'C',
        1,
      );
    }
    this.tx = null;
  }

  private message(msg: LogicalMessage): MessageChange {
    const tx = msg.transactional ? this.tx : null;
    if (msg.transactional && !tx)
      throw new DecodeError('transactional message outside a transaction', 'M', 0);
    const position = tx ? this.position++ : null;
    const idPrefix = tx ? tx.idPrefix : transactionIdPrefix(this.namespace, msg.lsn);
    return {
      kind: 'message',
      idPrefix,
      position,
      tx,
      lsnText: formatLsn(msg.lsn),
      prefix: msg.prefix,
      content: msg.content,
    };
  }

  private change(
    action: Action,
    relationId: number,
    newTuple: Tuple | null,
    oldKind: OldTupleKind | null,
    oldTuple: Tuple | null,
    tag: string,
  ): RowChange {
    const tx = this.tx;
    if (!tx) throw new DecodeError('row change outside a transaction', tag, 0);
    const relation = this.relations.get(relationId);
    if (!relation)
      throw new DecodeError(`change for relation ${relationId} before its Relation message`, tag, 1);
    const width = relation.columns.length;
    if ((newTuple && newTuple.length !== width) || (oldTuple && oldTuple.length !== width)) {
      throw new DecodeError(
        `tuple width does not match relation ${relation.schema}.${relation.table} (${width} columns)`,
        tag,
        5,
      );
    }
    const position = this.position++;
    return {
      kind: 'row',
      position,
      action,
      relation,
      tx,
      newTuple,
      oldKind,
      oldTuple,
      truncate: null,
    };
  }
}

/** A relation with its value writers, from a Relation message (or one made from the catalog). */
export function toRelation(msg: RelationMessage, types: TypeLookup | undefined): Relation {
  return {
    id: msg.relationId,
    schema: msg.schema,
    table: msg.name,
    jsonNames: Buffer.from(
      `"schema":${JSON.stringify(msg.schema)},"table":${JSON.stringify(msg.name)}`,
      'utf8',
    ),
    replicaIdentity: msg.replicaIdentity,
    columns: msg.columns.map((c) => {
      const write = valueWriter(c.typeOid, types);
      return {
        name: c.name,
        jsonKey: Buffer.from(JSON.stringify(c.name) + ':', 'utf8'),
        typeOid: c.typeOid,
        isKey: c.isKey,
        write,
        writeBytes: byteWriter(write),
      };
    }),
  };
}

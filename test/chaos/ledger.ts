/**
 * What committed, as the writers know it: the truth the stream is checked against.
 *
 * A writer records a transaction here only once PostgreSQL said COMMIT, or, when the outcome was
 * lost (the connection failed during COMMIT, as across a PostgreSQL restart), once the
 * transaction's id was found in the ledger table: every transaction inserts its id there as its
 * first statement, so the row exists if and only if the transaction committed.
 *
 * A transaction is a list of operations, each a run of consecutive keys of one table changed the
 * same way (one row for most; a 20 000-row insert is one operation), so the ledger stays small.
 */
import type pg from 'pg';
import { LEDGER, type TableSpec } from './schema.js';

export type Action = 'insert' | 'update' | 'delete';

/**
 * `count` rows with keys `first`… of `table`, each changed by `action`. For an insert or update,
 * `version` is the version written; for a delete, the version the row had when it was deleted.
 */
export interface Op {
  table: TableSpec;
  action: Action;
  first: number;
  count: number;
  version: number;
}

/** A committed transaction of the workload. */
export interface CommittedTx {
  txid: string;
  writer: number;
  /** The transaction id PostgreSQL gave it (what events carry as `xid`). */
  xid: number;
  /** Its changes after the ledger row, which is always the first. */
  ops: Op[];
  /** How many row changes it made, the ledger row included. */
  changes: number;
  /** When the writer learnt that it committed (ms since the epoch). */
  committedAt: number;
}

/** How the transactions whose outcome was lost turned out. */
export interface DoubtCounts {
  /** The connection failed while COMMIT was under way. */
  atCommit: number;
  /** The connection failed before COMMIT was sent (the transaction cannot have committed). */
  beforeCommit: number;
  /** Of both, found in the ledger table afterwards: committed. */
  foundCommitted: number;
}

export class Ledger {
  private readonly byXid = new Map<number, CommittedTx>();
  /** Transactions that ended with ROLLBACK on purpose. */
  rolledBack = 0;
  readonly doubts: DoubtCounts = { atCommit: 0, beforeCommit: 0, foundCommitted: 0 };
  changes = 0;
  largeTransactions = 0;

  /** Records a committed transaction. */
  record(tx: CommittedTx, large: boolean): void {
    if (this.byXid.has(tx.xid)) throw new Error(`xid ${tx.xid} committed twice (${tx.txid})`);
    this.byXid.set(tx.xid, tx);
    this.changes += tx.changes;
    if (large) this.largeTransactions++;
  }

  /** The committed transaction with this xid. */
  byTransactionId(xid: number): CommittedTx | undefined {
    return this.byXid.get(xid);
  }

  get committed(): number {
    return this.byXid.size;
  }

  transactions(): IterableIterator<CommittedTx> {
    return this.byXid.values();
  }
}

/** The statement every transaction starts with: its ledger row, returning its xid. */
export const LEDGER_INSERT = `INSERT INTO ${LEDGER.name} (txid, writer, xid) VALUES ($1, $2, pg_current_xact_id()::text::bigint % 4294967296) RETURNING xid`;

/** Looks a transaction up in the ledger table: its xid if it committed, undefined if not. */
export async function lookUpCommitted(client: pg.Client, txid: string): Promise<number | undefined> {
  const { rows } = await client.query<{ xid: string }>(`SELECT xid FROM ${LEDGER.name} WHERE txid = $1`, [
    txid,
  ]);
  return rows[0] ? Number(rows[0].xid) : undefined;
}

/** The expected ledger row of a transaction, as its event's `data` holds it. */
export function ledgerRow(tx: CommittedTx): Record<string, string | number> {
  return { txid: tx.txid, writer: tx.writer, xid: tx.xid };
}

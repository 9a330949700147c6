/**
 * The writers of a chaos run: each commits transactions of mixed sizes on the workload tables
 * (inserts, updates and deletes; mostly 1–50 rows, now and then about 20 000; some rolled back)
 * on its own connection straight to PostgreSQL, and records in the ledger what committed.
 *
 * Each writer keeps an exact view of its own rows (key → version). A transaction is planned on
 * that view, run statement by statement (each must change the rows planned, or the run stops as
 * broken), and the view and ledger change only once it committed. When the connection fails
 * during a transaction, the writer connects again and looks the transaction up in the ledger
 * table; a failure before COMMIT was sent cannot have committed, but is looked up all the same.
 */
import pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import { LEDGER_INSERT, lookUpCommitted, type Ledger, type Op } from './ledger.js';
import type { Random } from './random.js';
import {
  columnsOf,
  generatedRowSql,
  keyCondition,
  payload,
  PROBE,
  rowOf,
  WORKLOAD_TABLES,
  type TableSpec,
} from './schema.js';

/** How the writers behave; the defaults make a load a 2-core machine carries beside the servers. */
export interface WorkloadShape {
  writers: number;
  /** Pause between two transactions of a writer, drawn from [min, max] ms. */
  pauseMs: readonly [number, number];
  /** Chance that a transaction is a large one (about 20 000 rows). */
  largeChance: number;
  /** Chance that a transaction ends with ROLLBACK. */
  rollbackChance: number;
}

export const DEFAULT_SHAPE: WorkloadShape = {
  writers: 3,
  pauseMs: [20, 80],
  largeChance: 1 / 1000,
  rollbackChance: 0.05,
};

/** Keys of writer w start at w × KEY_SPACE, so writers never share a row. */
const KEY_SPACE = 10_000_000_000;
const SMALL_MAX_ROWS = 50;
const LARGE_ROWS: readonly [number, number] = [15_000, 25_000];
/** How long a writer keeps trying to reach PostgreSQL before the run is declared broken. */
const RECONNECT_TIMEOUT_MS = 120_000;

/** One statement of a planned transaction and how many rows it must change. */
interface Step {
  sql: string;
  params: unknown[];
  rows: number;
}

/** A run of keys inserted by one large insert, which a later large delete may remove. */
interface KeyRange {
  table: TableSpec;
  first: number;
  count: number;
}

/** The live rows of one table of one writer: key → version, with O(1) random picks. */
class LiveRows {
  private readonly keys: number[] = [];
  private readonly index = new Map<number, number>();
  private readonly versions = new Map<number, number>();

  get size(): number {
    return this.keys.length;
  }

  version(key: number): number | undefined {
    return this.versions.get(key);
  }

  set(key: number, version: number): void {
    if (!this.index.has(key)) {
      this.index.set(key, this.keys.length);
      this.keys.push(key);
    }
    this.versions.set(key, version);
  }

  delete(key: number): void {
    const at = this.index.get(key);
    if (at === undefined) return;
    const last = this.keys.pop()!;
    if (last !== key) {
      this.keys[at] = last;
      this.index.set(last, at);
    }
    this.index.delete(key);
    this.versions.delete(key);
  }

  randomKey(rng: Random): number {
    return this.keys[Math.floor(rng.next() * this.keys.length)]!;
  }
}

/** A writer's rows: what committed. */
class WriterModel {
  readonly rows = new Map<TableSpec, LiveRows>([...WORKLOAD_TABLES, PROBE].map((t) => [t, new LiveRows()]));
  readonly ranges: KeyRange[] = [];
  private next: number;

  constructor(writer: number) {
    this.next = writer * KEY_SPACE + 1;
  }

  live(table: TableSpec): LiveRows {
    return this.rows.get(table)!;
  }

  /** `count` new keys, never used before (keys of a transaction that did not commit are not reused). */
  allocate(count: number): number {
    const first = this.next;
    this.next += count;
    return first;
  }
}

/** A transaction being planned on a writer's rows; applied to them only once it committed. */
class Draft {
  readonly steps: Step[] = [];
  readonly ops: Op[] = [];
  changes = 0;
  private readonly overlay = new Map<TableSpec, Map<number, number | null>>();
  private readonly addedRanges: KeyRange[] = [];
  private removedRange: KeyRange | undefined;

  constructor(
    private readonly model: WriterModel,
    readonly writer: number,
  ) {}

  /** The row's version as this transaction sees it; undefined when it does not exist. */
  version(table: TableSpec, key: number): number | undefined {
    const planned = this.overlay.get(table)?.get(key);
    if (planned === null) return undefined;
    return planned ?? this.model.live(table).version(key);
  }

  insert(table: TableSpec, key: number): void {
    const row = rowOf(table, this.writer, key, 1);
    const columns = Object.keys(row);
    const placeholders = columns.map((_, i) => `$${i + 1}`).join(', ');
    this.add(
      `INSERT INTO ${table.name} (${columns.join(', ')}) VALUES (${placeholders})`,
      Object.values(row),
      1,
    );
    this.change(table, 'insert', key, 1, 1);
  }

  update(table: TableSpec, key: number, from: number): void {
    const where = keyCondition(table, key, 3);
    this.add(
      `UPDATE ${table.name} SET version = $1, payload = $2 WHERE ${where.sql}`,
      [from + 1, payload(key, from + 1), ...where.params],
      1,
    );
    this.change(table, 'update', key, 1, from + 1);
  }

  delete(table: TableSpec, key: number, version: number): void {
    const where = keyCondition(table, key, 1);
    this.add(`DELETE FROM ${table.name} WHERE ${where.sql}`, where.params, 1);
    this.change(table, 'delete', key, 1, version);
  }

  insertRange(table: TableSpec, first: number, count: number): void {
    const sql = `INSERT INTO ${table.name} (${columnsOf(table)}) SELECT ${generatedRowSql(table, this.writer)} FROM generate_series($1::bigint, $2::bigint) g`;
    this.add(sql, [first, first + count - 1], count);
    this.change(table, 'insert', first, count, 1);
    this.addedRanges.push({ table, first, count });
  }

  /** Deletes what is left of a large insert; false when nothing is. */
  deleteRange(range: KeyRange): boolean {
    const { table, first, count } = range;
    let rows = 0;
    let run: Op | undefined;
    for (let key = first; key < first + count; key++) {
      const version = this.version(table, key);
      if (version === undefined) {
        run = undefined;
        continue;
      }
      rows++;
      if (run && run.version === version) run.count++;
      else this.ops.push((run = { table, action: 'delete', first: key, count: 1, version }));
      this.plan(table, key, null);
    }
    this.removedRange = range;
    if (rows === 0) return false;
    this.add(`DELETE FROM ${table.name} WHERE id BETWEEN $1 AND $2`, [first, first + count - 1], rows);
    this.changes += rows;
    return true;
  }

  /** Makes the writer's rows what this transaction made them. */
  applyTo(model: WriterModel): void {
    for (const [table, planned] of this.overlay) {
      const live = model.live(table);
      for (const [key, version] of planned) {
        if (version === null) live.delete(key);
        else live.set(key, version);
      }
    }
    model.ranges.push(...this.addedRanges);
    if (this.removedRange) model.ranges.splice(model.ranges.indexOf(this.removedRange), 1);
  }

  private add(sql: string, params: unknown[], rows: number): void {
    this.steps.push({ sql, params, rows });
  }

  private change(
    table: TableSpec,
    action: Op['action'],
    first: number,
    count: number,
    version: number,
  ): void {
    this.ops.push({ table, action, first, count, version });
    this.changes += count;
    for (let key = first; key < first + count; key++)
      this.plan(table, key, action === 'delete' ? null : version);
  }

  private plan(table: TableSpec, key: number, version: number | null): void {
    let planned = this.overlay.get(table);
    if (!planned) this.overlay.set(table, (planned = new Map<number, number | null>()));
    planned.set(key, version);
  }
}

/** A transaction ready to run. */
interface Plan {
  draft: Draft;
  rollback: boolean;
  large: boolean;
  /** COMMIT waits for a synchronous standby that never comes (see `commitInDoubt`). */
  waitForStandby?: boolean;
}

/** What `transact` reports back. */
type Outcome = { committed: true; xid: number } | { committed: false };

/** True for failures of the connection or the server going away (retried), not of the SQL itself. */
export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (/^(08|57)/.test(code) || /^E[A-Z]+$/.test(code)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  return /connection terminated|not queryable|terminating connection|database system is|client was closed|connection error/i.test(
    message,
  );
}

/** One writer: a connection, its rows, and the loop that writes. */
export class Writer {
  private client: pg.Client | undefined;
  private readonly model: WriterModel;
  private txCount = 0;

  constructor(
    readonly id: number,
    private readonly connectionString: string,
    private readonly ledger: Ledger,
    private readonly rng: Random,
    private readonly shape: WorkloadShape,
  ) {
    this.model = new WriterModel(id);
  }

  /** Writes until `stop` aborts, then finishes the transaction under way and closes. */
  async run(stop: AbortSignal): Promise<void> {
    try {
      while (!stop.aborted) {
        await this.transact(this.plan());
        const [min, max] = this.shape.pauseMs;
        await sleep(this.rng.int(min, max), undefined, { signal: stop }).catch(() => undefined);
      }
    } finally {
      await this.close();
    }
  }

  /** Commits one probe row (key = `n`) and returns when it committed (ms since the epoch). */
  async probe(n: number): Promise<number> {
    for (;;) {
      const draft = new Draft(this.model, this.id);
      draft.insert(PROBE, n);
      const outcome = await this.transact({ draft, rollback: false, large: false });
      if (outcome.committed) return Date.now();
    }
  }

  /**
   * Runs a small transaction whose COMMIT waits for a synchronous standby that does not exist
   * (the pass's PostgreSQL names one in `synchronous_standby_names`; every other transaction
   * commits with `synchronous_commit = local`). The commit record is written and flushed, so the
   * transaction has committed, but COMMIT does not return until the connection ends: a restart
   * then makes its outcome unknown to the writer, which must find it in the ledger table.
   * Resolves with whether it was found committed.
   */
  async commitInDoubt(): Promise<boolean> {
    const draft = new Draft(this.model, this.id);
    for (let i = 0; i < 3; i++) this.planOne(draft);
    const outcome = await this.transact({ draft, rollback: false, large: false, waitForStandby: true });
    return outcome.committed;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private plan(): Plan {
    const draft = new Draft(this.model, this.id);
    const rollback = this.rng.chance(this.shape.rollbackChance);
    if (this.rng.chance(this.shape.largeChance)) {
      const ranges = this.model.ranges;
      if (ranges.length > 0 && this.rng.chance(0.5)) {
        const range = this.rng.pick(ranges);
        if (draft.deleteRange(range)) return { draft, rollback, large: true };
        ranges.splice(ranges.indexOf(range), 1); // nothing is left of it
      }
      const table = this.rng.pick(WORKLOAD_TABLES);
      const count = this.rng.int(...LARGE_ROWS);
      const fresh = new Draft(this.model, this.id);
      fresh.insertRange(table, this.model.allocate(count), count);
      return { draft: fresh, rollback, large: true };
    }
    // Mostly few rows: 1 + 50·r² has a median of 13 and reaches 50 rarely.
    const rows = 1 + Math.floor(this.rng.next() ** 2 * SMALL_MAX_ROWS);
    for (let i = 0; i < rows; i++) this.planOne(draft);
    return { draft, rollback, large: false };
  }

  private planOne(draft: Draft): void {
    const table = this.rng.pick(WORKLOAD_TABLES);
    const live = this.model.live(table);
    const r = this.rng.next();
    if (live.size >= 20 && r >= 0.45) {
      const key = live.randomKey(this.rng);
      const version = draft.version(table, key);
      if (version !== undefined) {
        if (r < 0.8) draft.update(table, key, version);
        else draft.delete(table, key, version);
        return;
      }
    }
    draft.insert(table, this.model.allocate(1));
  }

  /** Runs a planned transaction; records it in the ledger if it committed. */
  private async transact(plan: Plan): Promise<Outcome> {
    const txid = `w${this.id}-${++this.txCount}`;
    let committing = false;
    try {
      const client = await this.connection();
      await client.query('BEGIN');
      if (plan.waitForStandby) await client.query('SET LOCAL synchronous_commit = on');
      const { rows } = await client.query<{ xid: string }>(LEDGER_INSERT, [txid, this.id]);
      for (const step of plan.draft.steps) {
        const result = await client.query(step.sql, step.params);
        if (result.rowCount !== step.rows)
          throw new Error(`writer ${this.id}: ${step.sql} changed ${result.rowCount} rows, not ${step.rows}`);
      }
      if (plan.rollback) {
        await client.query('ROLLBACK');
        this.ledger.rolledBack++;
        return { committed: false };
      }
      committing = true;
      const result = await client.query('COMMIT');
      if (result.command !== 'COMMIT')
        throw new Error(`writer ${this.id}: COMMIT answered ${result.command}`);
      const xid = Number(rows[0]!.xid);
      this.committed(plan, txid, xid);
      return { committed: true, xid };
    } catch (error) {
      if (!isConnectionError(error)) throw error;
      await this.close();
      return this.resolve(plan, txid, committing);
    }
  }

  /** The outcome of a transaction whose connection failed, from the ledger table. */
  private async resolve(plan: Plan, txid: string, committing: boolean): Promise<Outcome> {
    if (committing) this.ledger.doubts.atCommit++;
    else this.ledger.doubts.beforeCommit++;
    const deadline = Date.now() + RECONNECT_TIMEOUT_MS;
    for (;;) {
      try {
        const xid = await lookUpCommitted(await this.connection(), txid);
        if (xid === undefined) return { committed: false };
        if (plan.rollback) throw new Error(`writer ${this.id}: ${txid} rolled back, but the ledger has it`);
        this.ledger.doubts.foundCommitted++;
        this.committed(plan, txid, xid);
        return { committed: true, xid };
      } catch (error) {
        if (!isConnectionError(error) || Date.now() > deadline) throw error;
        await this.close();
        await sleep(200);
      }
    }
  }

  private committed(plan: Plan, txid: string, xid: number): void {
    plan.draft.applyTo(this.model);
    const { ops, changes } = plan.draft;
    this.ledger.record(
      { txid, writer: this.id, xid, ops, changes: changes + 1, committedAt: Date.now() },
      plan.large,
    );
  }

  /** The writer's connection, opened (again) when it has none, waiting while PostgreSQL is down. */
  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    const deadline = Date.now() + RECONNECT_TIMEOUT_MS;
    for (;;) {
      const client = new pg.Client({ connectionString: this.connectionString });
      // A server that goes away under an idle connection makes it emit 'error'; the next query fails.
      client.on('error', () => undefined);
      try {
        await client.connect();
        this.client = client;
        return client;
      } catch (error) {
        await client.end().catch(() => undefined);
        if (!isConnectionError(error) || Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }
}

/** The writers of one run. */
export class Workload {
  readonly writers: Writer[];
  /** Writes the fault loop's probe rows. */
  readonly prober: Writer;
  /** Leaves a COMMIT in doubt when asked (the PostgreSQL restart fault). */
  readonly doubter: Writer;
  private readonly stop = new AbortController();
  private running: Promise<void>[] = [];
  /** The first error that stopped a writer (the run is broken then, not the service). */
  failure: Error | undefined;

  constructor(connectionString: string, ledger: Ledger, rng: Random, shape: WorkloadShape) {
    this.writers = Array.from(
      { length: shape.writers },
      (_, i) => new Writer(i + 1, connectionString, ledger, rng.fork(), shape),
    );
    this.prober = new Writer(0, connectionString, ledger, rng.fork(), shape);
    this.doubter = new Writer(shape.writers + 1, connectionString, ledger, rng.fork(), shape);
  }

  start(): void {
    this.running = this.writers.map((writer) =>
      writer.run(this.stop.signal).catch((error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error));
        this.stop.abort();
      }),
    );
  }

  /** Stops the writers after their current transaction. */
  async finish(): Promise<void> {
    this.stop.abort();
    await Promise.all(this.running);
    await this.prober.close();
    await this.doubter.close();
  }
}

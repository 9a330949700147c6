/**
 * Snapshots and backfills, run for the session that holds the slot.
 *
 * A `BackfillRunner` lives as long as the service; each replication session attaches to it and
 * gets a `BackfillPort`, through which the session hands it row changes and watermark messages and
 * receives the snapshot rows to publish. Nothing runs without a session: a standby, which holds no
 * slot, never reads a table, and the instance that takes the slot over continues from the progress
 * bucket.
 *
 * **Backfill** (the DBLog method, `window.ts`): a table is read in primary-key chunks, each between
 * a low and a high watermark written into the WAL with `pg_logical_emit_message`. The chunk waits in
 * memory until the session reads the high watermark in the stream; its rows whose key a published
 * change touched between the watermarks are dropped, the others are published right there, as
 * positions after the watermark in the watermark's own transaction (so their ids are deterministic
 * and in stream order like every other event's). The next chunk is read only once the watermark's
 * commit is confirmed, that is once every event of the chunk is stored, and only then is the
 * chunk's last key saved in the bucket. The slot never waits on a backfill: the stream goes on
 * while a chunk is read, and a chunk holds at most `maxChunkRows` rows.
 *
 * **Initial snapshot**: when the slot is created, it is created with an exported snapshot; the
 * session imports it into a repeatable-read transaction before it starts streaming and publishes
 * every table's rows from it, before reading a single change. Their ids use the LSN just below the
 * slot's consistent point, below every change's id. If that is interrupted, what is left of it is
 * continued as a backfill.
 *
 * **Resuming**: a chunk can be stored and its progress not yet saved when the service dies. On
 * every start, a table in progress continues after the later of its saved key and the key of the
 * last snapshot event of the backfill stored on the table's snapshot subject, so no row is stored
 * twice whatever the stream's duplicate window.
 */
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { NatsConnection } from '@nats-io/transport-node';
import { ReplicationError } from '../errors.js';
import type { SnapshotPoint } from '../event/change-event.js';
import { transactionIdPrefix } from '../event/event-id.js';
import type { MessageChange, Relation, RowChange } from '../event/transaction.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { lastMessageOn } from '../sink/stream-tail.js';
import { formatLsn } from '../source/lsn.js';
import type { RelationMessage } from '../source/pgoutput/messages.js';
import { Tuple } from '../source/pgoutput/tuple.js';
import { connectRowReader, type PgSettings, type SlotSettings } from '../source/replication-connection.js';
import type { ExportedSnapshot } from '../source/replication-source.js';
import { FIRST_CHUNK_ROWS, nextChunkRows } from './chunk-size.js';
import { CopyTextRows } from './copy-text.js';
import {
  BackfillStore,
  BucketAbsent,
  isFinished,
  newRecord,
  type BackfillRecord,
  type BackfillState,
  type ProgressSettings,
  type TableProgress,
} from './progress.js';
import {
  describeTable,
  keyAfter,
  keyOfEventData,
  keyProblem,
  pendingTable,
  publishedTables,
  readChunk,
  relationOf,
  rowKey,
  tableCopy,
  tableName,
  type TableInfo,
  type TextRow,
} from './table-reader.js';
import { ChunkWindow, decodeWatermark, encodeWatermark, WATERMARK_PREFIX, type Watermark } from './window.js';

/** What backfills need from the configuration. */
export interface BackfillSettings extends ProgressSettings {
  /** How long one chunk's query should take; the chunk size adapts to it. */
  chunkTimeMs: number;
  /** Most rows in one chunk. */
  maxChunkRows: number;
  /** `listener.snapshot: initial`: snapshot the published tables when the slot is created. */
  initialSnapshot: boolean;
}

export type { ExportedSnapshot };

/** Snapshot events for the session to publish, in order, at positions from `position` on. */
export interface SnapshotBatch {
  relation: Relation;
  subject: string;
  rows: readonly Tuple[];
  point: SnapshotPoint;
  position: number;
  /** The table's end marker, published after the rows. */
  end: { state: BackfillState; rows: number } | null;
}

/** What the runner needs of the session it works for. */
export interface SessionContext {
  /** The 26-bit namespace of the session's event ids. */
  namespace: number;
  /** The relation (value writers) of a table described by the catalog, types read when needed. */
  relation(msg: RelationMessage): Promise<Relation>;
  /** The subject of a table's snapshot events, or null when the filter does not publish it. */
  subjectOf(schema: string, table: string): string | null;
  /**
   * Publishes a batch at once (used for the exported snapshot); resolves when the publish window
   * has room again and every event published so far is acknowledged if `drain`.
   */
  publish(batch: SnapshotBatch, drain: boolean): Promise<void>;
}

/** The session's side of the runner. */
export interface BackfillPort {
  /** True while a chunk's window is open: changes must be handed to `changed`. */
  readonly watching: boolean;
  /** A published row change went by. */
  changed(change: RowChange): void;
  /** A watermark message went by: the rows to publish now, or null. */
  watermark(change: MessageChange): SnapshotBatch | null;
  /** The checkpoint's flush position moved. */
  flushed(flush: bigint): void;
  /**
   * With an exported snapshot: imports it (before the session starts streaming: the snapshot lives
   * only until the replication connection's next command).
   */
  importSnapshot(exported: ExportedSnapshot): Promise<void>;
  /** Publishes the initial snapshot from the imported snapshot (the stream is held meanwhile). */
  publishInitial(): Promise<void>;
  /** The session ended: the chunk in progress is dropped, nothing more is read. */
  close(): void;
}

/** How often an idle runner looks for new backfills and cancel requests. */
const POLL_MS = 1000;
/** How long to wait before trying the progress bucket again after it could not be opened. */
const UNAVAILABLE_RETRY_MS = 30_000;
/** How often a long backfill logs its progress. */
const PROGRESS_LOG_MS = 10_000;

/** The session ended while a chunk was under way. */
class SessionEnded extends Error {}

/** A chunk between its watermarks. */
interface PendingChunk {
  watermark: Omit<Watermark, 'mark'>;
  table: TableInfo;
  relation: Relation;
  subject: string;
  window: ChunkWindow;
  rows: TextRow[] | null;
  /** The table's last chunk: the end marker goes with it. */
  end: { state: BackfillState; rows: number } | null;
  emitted: number;
  /** The high watermark's commit: the chunk is stored once the flush position passes it. */
  commitLsn: bigint | null;
  settle: { resolve: () => void; reject: (err: Error) => void };
  done: Promise<void>;
}

/** Runs backfills for the sessions that attach to it, one session at a time. */
export class BackfillRunner {
  private store: BackfillStore | null = null;

  constructor(
    private readonly settings: BackfillSettings,
    private readonly pg: PgSettings,
    private readonly slot: SlotSettings,
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {}

  private warned = false;

  /** The bucket could not be opened: said once, then quietly tried again. */
  unavailable(err: unknown): void {
    if (err instanceof BucketAbsent)
      return this.log.debug({ bucket: err.bucket }, 'no backfill asked for yet');
    if (this.warned) return this.log.debug({ err }, 'backfills unavailable');
    this.warned = true;
    this.log.warn(
      { err },
      'backfills unavailable: the progress bucket cannot be opened; changes stream as usual',
    );
  }

  /** The progress bucket, opened once it exists (`create`: made when absent). */
  async progress(create = false): Promise<BackfillStore> {
    this.store ??= await BackfillStore.open(this.nc, this.settings, this.slot.slot, { create });
    return this.store;
  }

  /**
   * Called just before the slot is created with an exported snapshot: records the initial snapshot
   * as pending, so that a crash right after the slot's creation still leaves it to be done.
   */
  async beforeSlotCreated(): Promise<void> {
    const store = await this.progress(true);
    await store.save(newRecord(this.slot.slot, 'initial'));
  }

  /** True when the slot should be created with an exported snapshot. */
  get wantsInitialSnapshot(): boolean {
    return this.settings.initialSnapshot;
  }

  /** A session started: returns its port; the runner works for it until `close`. */
  attach(ctx: SessionContext): BackfillPort {
    return new SessionWork(this, ctx, this.settings, this.pg, this.slot, this.nc, this.log, this.metrics);
  }
}

/** The runner's work for one session. */
class SessionWork implements BackfillPort {
  private pending: PendingChunk | null = null;
  private closed = false;
  private sql: pg.Client | null = null;
  private snapshotSql: pg.Client | null = null;
  private exported: ExportedSnapshot | null = null;
  private readonly loop: Promise<void>;
  private startLoop!: () => void;
  private chunkRows = FIRST_CHUNK_ROWS;
  private lastLog = 0;

  constructor(
    private readonly runner: BackfillRunner,
    private readonly ctx: SessionContext,
    private readonly settings: BackfillSettings,
    private readonly pgs: PgSettings,
    private readonly slot: SlotSettings,
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    const started = new Promise<void>((resolve) => (this.startLoop = resolve));
    this.loop = started.then(() => this.work());
    // Backfills wait for the session to stream (and for an initial snapshot to be published).
    queueMicrotask(() => {
      if (!this.exported) this.startLoop();
    });
  }

  get watching(): boolean {
    return this.pending?.window.open === true;
  }

  changed(change: RowChange): void {
    this.pending?.window.changed(change);
  }

  watermark(change: MessageChange): SnapshotBatch | null {
    const w = decodeWatermark(change.content);
    const p = this.pending;
    if (!w || !p || !change.tx || change.position === null) return null;
    const own = p.watermark;
    if (w.backfill !== own.backfill || w.chunk !== own.chunk || w.token !== own.token) return null;
    if (w.mark === 'low') {
      if (!p.window.sawLow) p.window.low();
      return null;
    }
    if (p.window.sawHigh) return null; // published once, at its first high watermark
    p.window.high();
    if (!p.window.sawLow || p.rows === null) {
      p.settle.reject(new Error('the chunk was not seen from its low watermark')); // read again
      return null;
    }
    const keyIndexes = p.table.keyIndexes;
    const kept = p.rows.filter((row) => p.window.keeps(rowKey(row, keyIndexes)));
    p.emitted = kept.length;
    p.commitLsn = change.tx.commitLsn;
    const tx = change.tx;
    return {
      relation: p.relation,
      subject: p.subject,
      rows: kept.map((row) => Tuple.fromText(row)),
      point: {
        backfill: p.watermark.backfill,
        lsnText: tx.lsnText,
        commitTime: tx.commitTime,
        xid: tx.xid,
        idPrefix: tx.idPrefix,
      },
      position: change.position + 1,
      end: p.end && { state: p.end.state, rows: p.end.rows + kept.length },
    };
  }

  flushed(flush: bigint): void {
    const p = this.pending;
    if (p && p.commitLsn !== null && flush > p.commitLsn) {
      this.pending = null;
      p.settle.resolve();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const p = this.pending;
    this.pending = null;
    p?.settle.reject(new SessionEnded('the session ended'));
    this.startLoop();
    void this.loop.finally(() => this.closeConnections());
  }

  private async closeConnections(): Promise<void> {
    await this.snapshotSql?.end().catch(() => {});
    await this.sql?.end().catch(() => {});
  }

  private async connection(): Promise<pg.Client> {
    this.sql ??= await connectRowReader(this.pgs);
    return this.sql;
  }

  async importSnapshot(exported: ExportedSnapshot): Promise<void> {
    this.exported = exported;
    const sql = await connectRowReader(this.pgs);
    this.snapshotSql = sql;
    await sql.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await sql.query(`SET TRANSACTION SNAPSHOT '${exported.name.replaceAll("'", "''")}'`);
  }

  async publishInitial(): Promise<void> {
    const exported = this.exported;
    const sql = this.snapshotSql;
    if (!exported || !sql) throw new Error('publishInitial without an imported snapshot');
    try {
      await this.initial(sql, exported);
      await sql.query('COMMIT');
    } finally {
      this.snapshotSql = null;
      await sql.end().catch(() => {});
      this.startLoop();
    }
  }

  /** The record of the initial snapshot waiting for this slot's creation, or a new one. */
  private async initialRecord(store: BackfillStore): Promise<BackfillRecord> {
    const waiting = (await store.list()).filter((r) => r.kind === 'initial' && r.state === 'pending');
    const record = waiting.at(-1);
    for (const older of waiting.slice(0, -1)) {
      older.state = 'cancelled';
      older.error = 'superseded by a newer initial snapshot';
      await store.save(older);
    }
    return record ?? newRecord(this.slot.slot, 'initial');
  }

  /** The tables the publication and the filter publish, as progress entries. */
  private async tablesToSnapshot(sql: pg.Client): Promise<TableProgress[]> {
    const tables: TableProgress[] = [];
    for (const t of await publishedTables(sql, this.slot.publication)) {
      if (this.ctx.subjectOf(t.schema, t.table) === null) continue;
      const info = await describeTable(sql, t);
      if (!info) continue;
      tables.push(pendingTable(info));
    }
    return tables;
  }

  /** Publishes every table's rows from the exported snapshot. */
  private async initial(sql: pg.Client, exported: ExportedSnapshot): Promise<void> {
    const store = await this.runner.progress(true);
    const record = await this.initialRecord(store);
    record.tables = await this.tablesToSnapshot(sql);
    record.state = 'running';
    record.consistentPoint = formatLsn(exported.consistentPoint);
    await store.save(record);
    this.metrics.backfillsRunning.set(1);
    this.log.info(
      { backfill: record.id, tables: record.tables.map(tableName), consistentPoint: record.consistentPoint },
      'initial snapshot: publishing the rows of every published table before any change',
    );
    // Ids below every change's: the LSN just below the consistent point is no record's position.
    const point: SnapshotPoint = {
      backfill: record.id,
      lsnText: formatLsn(exported.consistentPoint),
      commitTime: new Date().toISOString().replace('Z', '000Z'),
      xid: null,
      idPrefix: transactionIdPrefix(this.ctx.namespace, exported.consistentPoint - 1n),
    };
    let position = 0;
    for (const progress of record.tables) {
      const info = await describeTable(sql, progress);
      const subject = this.ctx.subjectOf(progress.schema, progress.table);
      if (!info || !subject) continue;
      const relation = await this.ctx.relation(relationOf(info));
      progress.state = 'running';
      const started = Date.now();
      // One COPY per table, read as it streams: a chunk's rows are published before the next is
      // read, so memory holds a chunk, whatever the table's size.
      const parser = new CopyTextRows(info.columns.length);
      const copy = sql.query(copyStreams.to(tableCopy(info)));
      for await (const chunk of copy as AsyncIterable<Buffer>) {
        if (this.closed) throw new SessionEnded('the session ended');
        const rows = parser.push(chunk);
        if (rows.length === 0) continue;
        await this.ctx.publish({ relation, subject, rows, point, position, end: null }, false);
        position += rows.length;
        progress.rows += rows.length;
        this.metrics.backfillRows.labels(record.id, tableName(info)).inc(rows.length);
        this.logProgress(record, progress, started);
      }
      parser.end();
      const end = { state: 'done' as const, rows: progress.rows };
      await this.ctx.publish({ relation, subject, rows: [], point, position, end }, true);
      position++;
      progress.state = 'done';
      progress.chunks = 1;
      await store.save(record);
      this.log.info(
        { backfill: record.id, table: tableName(info), rows: progress.rows },
        'initial snapshot: table done',
      );
    }
    record.state = 'done';
    await store.save(record);
    this.metrics.backfillsRunning.set(0);
    this.log.info({ backfill: record.id }, 'initial snapshot done: streaming changes');
  }

  /** Runs the backfills of the slot one after another until the session ends. */
  private async work(): Promise<void> {
    while (!this.closed) {
      let store: BackfillStore;
      try {
        store = await this.runner.progress();
      } catch (err) {
        // No bucket (JetStream or permissions lacking): the stream goes on, backfills wait.
        this.runner.unavailable(err);
        await sleep(err instanceof BucketAbsent ? POLL_MS * 5 : UNAVAILABLE_RETRY_MS, undefined, {
          ref: false,
        });
        continue;
      }
      try {
        const record = (await store.list()).find((r) => !isFinished(r.state));
        if (!record) {
          this.metrics.backfillsRunning.set(0);
          await sleep(POLL_MS, undefined, { ref: false });
          continue;
        }
        this.metrics.backfillsRunning.set(1);
        await this.run(store, record);
      } catch (err) {
        if (this.closed || err instanceof SessionEnded) break;
        this.log.warn({ err }, 'backfill interrupted: trying again');
        await sleep(POLL_MS, undefined, { ref: false });
      }
    }
  }

  /** One backfill, table after table, from where it got to. */
  private async run(store: BackfillStore, record: BackfillRecord): Promise<void> {
    const sql = await this.connection();
    if (record.tables.length === 0 && record.kind === 'initial') {
      // The slot was created but its initial snapshot never started: continue it as a backfill.
      record.tables = await this.tablesToSnapshot(sql);
    }
    if (record.state === 'pending') {
      record.state = 'running';
      this.log.info({ backfill: record.id, tables: record.tables.map(tableName) }, 'backfill started');
    }
    await store.save(record);
    for (const progress of record.tables) {
      if (isFinished(progress.state)) continue;
      if (await store.cancelRequested(record.id)) break;
      await this.table(store, record, progress, sql);
    }
    const cancelled = await store.cancelRequested(record.id);
    for (const progress of record.tables) {
      if (!isFinished(progress.state)) {
        if (!cancelled) throw new Error(`backfill ${record.id} left ${tableName(progress)} unfinished`);
        progress.state = 'cancelled';
        await this.endTable(record, progress, sql, 'cancelled');
      }
    }
    record.state = cancelled
      ? 'cancelled'
      : record.tables.some((t) => t.state === 'failed')
        ? 'failed'
        : 'done';
    await store.save(record);
    this.metrics.backfillsRunning.set(0);
    this.log.info(
      { backfill: record.id, state: record.state, rows: record.tables.reduce((n, t) => n + t.rows, 0) },
      `backfill ${record.state}`,
    );
  }

  /** Fails a table: its end marker says so, the others go on. */
  private async failTable(
    record: BackfillRecord,
    progress: TableProgress,
    sql: pg.Client,
    why: string,
  ): Promise<void> {
    progress.state = 'failed';
    progress.error = why;
    this.log.warn({ backfill: record.id, table: tableName(progress) }, why);
    await this.endTable(record, progress, sql, 'failed').catch(() => {});
  }

  /** Publishes a table's end marker with the given state (through a chunk of no rows). */
  private async endTable(
    record: BackfillRecord,
    progress: TableProgress,
    sql: pg.Client,
    state: BackfillState,
  ): Promise<void> {
    const info = await describeTable(sql, progress);
    const subject = this.ctx.subjectOf(progress.schema, progress.table);
    if (!info || !subject) return;
    const relation = await this.ctx.relation(relationOf(info));
    await this.chunk(record, info, relation, subject, sql, progress.chunks + 1, [], {
      state,
      rows: progress.rows,
    });
  }

  /** One table of a backfill, chunk after chunk. */
  private async table(
    store: BackfillStore,
    record: BackfillRecord,
    progress: TableProgress,
    sql: pg.Client,
  ): Promise<void> {
    const name = tableName(progress);
    const info = await describeTable(sql, progress);
    if (!info) return this.failTable(record, progress, sql, `table ${name} no longer exists`);
    const subject = this.ctx.subjectOf(progress.schema, progress.table);
    if (!subject) {
      return this.failTable(
        record,
        progress,
        sql,
        `the filter database.filter.tables no longer publishes ${name}: its backfill stopped`,
      );
    }
    const problem = keyProblem(info);
    if (problem) {
      return this.failTable(
        record,
        progress,
        sql,
        record.kind === 'initial'
          ? `the initial snapshot of ${name} was interrupted and cannot be continued: ${problem}`
          : problem,
      );
    }
    const relation = await this.ctx.relation(relationOf(info));
    if (await this.resume(record, progress, info, subject, sql)) {
      await store.save(record);
      return;
    }
    progress.state = 'running';
    this.metrics.backfillRowsEstimated.labels(record.id, name).set(info.estimate);
    const started = Date.now();
    let rowsAtStart = progress.rows;
    let since = started;
    while (!this.closed) {
      if (await store.cancelRequested(record.id)) return;
      const limit = this.chunkRows;
      const t0 = Date.now();
      const chunk = await this.chunk(
        record,
        info,
        relation,
        subject,
        sql,
        progress.chunks + 1,
        limit,
        null,
        progress,
      );
      const queryMs = chunk.queryMs;
      progress.rows += chunk.emitted;
      progress.chunks++;
      if (chunk.lastKey) progress.lastKey = chunk.lastKey;
      if (chunk.last) progress.state = 'done';
      await store.save(record);
      this.metrics.backfillRows.labels(record.id, name).inc(chunk.emitted);
      const now = Date.now();
      if (now - since >= 1000) {
        this.metrics.backfillRowsPerSecond
          .labels(record.id, name)
          .set(((progress.rows - rowsAtStart) * 1000) / (now - since));
        rowsAtStart = progress.rows;
        since = now;
      }
      this.chunkRows = nextChunkRows(
        limit,
        queryMs,
        now - t0,
        this.settings.chunkTimeMs,
        this.settings.maxChunkRows,
      );
      this.logProgress(record, progress, started);
      if (chunk.last) {
        this.log.info({ backfill: record.id, table: name, rows: progress.rows }, 'backfill: table done');
        return;
      }
    }
  }

  /**
   * Where a table continues after a restart: after the last snapshot event of this backfill stored
   * on its subject when that is further than the saved key. True when the table turns out done
   * (its end marker is stored).
   */
  private async resume(
    record: BackfillRecord,
    progress: TableProgress,
    info: TableInfo,
    subject: string,
    sql: pg.Client,
  ): Promise<boolean> {
    const last = (await lastMessageOn(this.nc, subject)) as {
      backfill?: unknown;
      action?: unknown;
      data?: unknown;
      rows?: unknown;
      state?: unknown;
    } | null;
    if (!last || last.backfill !== record.id) return false;
    if (last.action === 'SNAPSHOT_END') {
      progress.state = last.state === 'cancelled' || last.state === 'failed' ? last.state : 'done';
      if (typeof last.rows === 'number') progress.rows = last.rows;
      return true;
    }
    const key = await keyOfEventData(sql, info, last.data);
    if (!key) {
      throw new ReplicationError(
        `cannot read the key of the last snapshot event of ${record.id} on ${subject}: not continuing ${tableName(info)} blindly`,
      );
    }
    if (progress.lastKey === null || (await keyAfter(sql, info, key, progress.lastKey))) {
      this.log.info(
        { backfill: record.id, table: tableName(info), key },
        'backfill: continuing after the last snapshot event stored',
      );
      progress.lastKey = key;
    }
    return false;
  }

  private logProgress(record: BackfillRecord, progress: TableProgress, started: number): void {
    const now = Date.now();
    if (now - this.lastLog < PROGRESS_LOG_MS) return;
    this.lastLog = now;
    this.log.info(
      {
        backfill: record.id,
        table: tableName(progress),
        rows: progress.rows,
        estimate: progress.estimate,
        rowsPerSecond: Math.round((progress.rows * 1000) / Math.max(1, now - started)),
      },
      'backfill progress',
    );
  }

  /**
   * One chunk: low watermark, the query, high watermark; resolves once the session published its
   * rows at the high watermark and they are all stored. `rowsOrLimit` is the rows (an end marker's
   * empty chunk) or the most to read after `progress.lastKey`.
   */
  private async chunk(
    record: BackfillRecord,
    info: TableInfo,
    relation: Relation,
    subject: string,
    sql: pg.Client,
    number: number,
    rowsOrLimit: TextRow[] | number,
    end: { state: BackfillState; rows: number } | null,
    progress?: TableProgress,
  ): Promise<{ emitted: number; lastKey: string[] | null; last: boolean; queryMs: number }> {
    if (this.closed) throw new SessionEnded('the session ended');
    let settle!: PendingChunk['settle'];
    const done = new Promise<void>((resolve, reject) => (settle = { resolve, reject }));
    const pending: PendingChunk = {
      watermark: { backfill: record.id, chunk: number, token: randomBytes(6).toString('hex') },
      table: info,
      relation,
      subject,
      window: new ChunkWindow(
        info.oid,
        info.keyIndexes.map((i) => info.columns[i]!.name),
      ),
      rows: null,
      end,
      emitted: 0,
      commitLsn: null,
      settle,
      done,
    };
    done.catch(() => {});
    this.pending = pending;
    await this.emit(sql, { ...pending.watermark, mark: 'low' });
    const t0 = Date.now();
    let rows: TextRow[];
    let last = end !== null;
    if (typeof rowsOrLimit === 'number') {
      rows = await readChunk(sql, info, progress?.lastKey ?? null, record.where, rowsOrLimit);
      last = rows.length < rowsOrLimit;
      if (last) pending.end = { state: 'done', rows: progress?.rows ?? 0 };
    } else rows = rowsOrLimit;
    const queryMs = Date.now() - t0;
    pending.rows = rows;
    await this.emit(sql, { ...pending.watermark, mark: 'high' });
    await done;
    const lastRow = rows.at(-1);
    return {
      emitted: pending.emitted,
      lastKey: lastRow ? info.keyIndexes.map((i) => lastRow[i]!) : null,
      last,
      queryMs,
    };
  }

  /** Writes a watermark into the WAL (a transactional logical message, committed at once). */
  private async emit(sql: pg.Client, w: Watermark): Promise<void> {
    await sql.query('SELECT pg_logical_emit_message(true, $1, $2)', [WATERMARK_PREFIX, encodeWatermark(w)]);
  }
}

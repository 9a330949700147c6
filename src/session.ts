/**
 * One replication session: from the slot's confirmed position until a stop or a failure.
 *
 * Its steps, one method each: **read** a frame from the source (or wait while the publish window
 * is full or type information is being read), **decode** it, **apply** it to the open transaction,
 * **route** each change to its subject, **publish** it to the sink, and **confirm** to PostgreSQL
 * what the checkpointer allows. Memory is bounded by the window: when `maxInFlight` events wait
 * for an ack, the source is paused until half of them are acknowledged.
 *
 * Contract: the flush LSN sent to the server is only ever the checkpointer's, which never passes a
 * commit whose events are not all acknowledged; a session that ends for any reason confirms what
 * was acknowledged and nothing else. Events are published in the order their changes were read.
 */
import type { BackfillPort, BackfillRunner, SnapshotBatch } from './backfill/runner.js';
import { Checkpointer, type EventSeq } from './checkpoint/checkpointer.js';
import { PgwalstreamsError, ReplicationError } from './errors.js';
import {
  changeMeta,
  commitMarker,
  encodeChange,
  snapshotEndEvent,
  snapshotMeta,
  writeSnapshotEvent,
  type BadValue,
  type EventMeta,
} from './event/change-event.js';
import { systemNamespace } from './event/event-id.js';
import {
  detachRow,
  toRelation,
  TransactionAssembler,
  type Change,
  type MessageChange,
  type Relation,
  type RowChange,
} from './event/transaction.js';
import { mayBeStale, textForStaleValue, TypeRefresh } from './event/type-refresh.js';
import { missingTypes } from './event/values.js';
import type { Logger } from './ops/log.js';
import type { Metrics } from './ops/metrics.js';
import type { Router } from './route/router.js';
import type { Sink, SinkFactory } from './sink/sink.js';
import { parseFrame, type KeepaliveFrame } from './source/frames.js';
import { formatLsn, maxLsn, type ReceivedLsn } from './source/lsn.js';
import type { CommitMessage, PgoutputMessage } from './source/pgoutput/messages.js';
import { decodePgoutput } from './source/pgoutput/decoder.js';
import type { RelationMessage } from './source/pgoutput/messages.js';
import type { SlotSettings } from './source/replication-connection.js';
import type { ReplicationSource } from './source/replication-source.js';
import { WATERMARK_PREFIX } from './source/slot-status.js';
import { STATUS_CHECK_MS, StatusCadence } from './source/standby-status.js';
import type { TypeCatalog } from './source/type-catalog.js';

/** What a session needs to know. */
export interface SessionSettings {
  slot: SlotSettings;
  /** Most events waiting for an ack at once. */
  maxInFlight: number;
  /** How long a graceful stop waits for outstanding acks. */
  shutdownTimeoutMs: number;
}

/** The parts a session works with; the source is its own, the others outlive it. */
export interface SessionParts {
  source: ReplicationSource;
  sinks: SinkFactory;
  /** Type information of user-defined types, kept across sessions. */
  catalog: TypeCatalog;
  /** The router in force (a reload replaces it between two changes). */
  router: () => Router;
  log: Logger;
  metrics: Metrics;
  /** Snapshots and backfills, run for the session that holds the slot; absent: none. */
  backfills?: BackfillRunner | undefined;
}

/** One replication session. */
export class Session {
  private readonly checkpoint: Checkpointer;
  private readonly assembler: TransactionAssembler;
  private readonly cadence = new StatusCadence();
  private readonly typeRefresh = new TypeRefresh();
  private readonly frames: Buffer[] = [];
  private readonly resumeBelow: number;
  private sink: Sink | null = null;
  private backfill: BackfillPort | null = null;
  /** Resolves a wait for room in the publish window (see `room`). */
  private roomWaiter: (() => void) | null = null;
  private drainWaiter: (() => void) | null = null;
  private received: ReceivedLsn;
  /** Events published from the open transaction. */
  private publishedInTx = 0;
  // Reading stops while the publish window is full, while type information is being read or
  // snapshot rows are published (`hold`), and once a stop began.
  private windowFull = false;
  private resolvingTypes = false; // true while held
  private stopping = false;
  private reading = true;
  private settled = false;
  private statusTimer: NodeJS.Timeout | undefined;
  private stopTimer: NodeJS.Timeout | undefined;
  private finish: { resolve: () => void; reject: (err: Error) => void } | null = null;
  private signal: AbortSignal | null = null;
  private readonly onAbort = () => this.stop();
  /** True once a status update confirmed a position other than the one before it. */
  progressMade = false;

  constructor(
    private readonly settings: SessionSettings,
    private readonly parts: SessionParts,
  ) {
    const { source, metrics } = parts;
    this.checkpoint = new Checkpointer(source.start, (_lsn, commitTimeMs) => {
      if (commitTimeMs > 0) metrics.commitToAck.observe(Math.max(0, Date.now() - commitTimeMs) / 1000);
    });
    this.assembler = new TransactionAssembler(systemNamespace(source.systemId), parts.catalog);
    this.received = source.start as bigint as ReceivedLsn;
    this.resumeBelow = Math.max(1, Math.floor(settings.maxInFlight / 2));
  }

  /**
   * Opens the sink and streams until `signal` aborts (then stops gracefully and resolves) or a
   * failure (then rejects with it); `streaming` is called once the stream started. The source is
   * closed either way.
   */
  async run(signal: AbortSignal, streaming: () => void): Promise<void> {
    const { source, sinks, router } = this.parts;
    try {
      this.sink = await sinks.open(
        {
          acked: (seq, latencyMs) => this.acked(seq, latencyMs),
          stored: (seq) => this.stored(seq),
          failed: (err) => this.publishFailed(err),
        },
        {
          topicPrefix: router().topicPrefix,
          source: { namespace: systemNamespace(source.systemId), slot: this.settings.slot.slot },
          replay: !source.created.slot,
        },
      );
      this.backfill = this.parts.backfills?.attach(this.backfillContext()) ?? null;
      // The exported snapshot lives until the replication connection's next command: import it first.
      if (source.exported && this.backfill) await this.backfill.importSnapshot(source.exported);
    } catch (err) {
      this.backfill?.close();
      this.sink?.close();
      await this.parts.source.close();
      throw err;
    }
    this.signal = signal;
    return new Promise<void>((resolve, reject) => {
      this.finish = { resolve, reject };
      // The connections keep the process alive; the session's own timers never do.
      this.statusTimer = setInterval(() => this.tick(), STATUS_CHECK_MS).unref();
      signal.addEventListener('abort', this.onAbort, { once: true });
      this.parts.source.stream({
        frame: (data) => this.read(data),
        closed: (err) => (this.stopping ? this.finishStop() : this.fail(err)),
      });
      const backfill = this.backfill;
      if (source.exported && backfill) {
        // The initial snapshot comes before any change: the stream is held until it is published.
        this.hold(async () => {
          await source.holdSlot();
          await backfill.publishInitial();
        }, 'the initial snapshot failed');
      }
      streaming();
      if (signal.aborted) this.stop();
    });
  }

  /** How long the oldest event not yet acknowledged has waited, in ms (0 when none waits). */
  oldestUnackedMs(now = Date.now()): number {
    return this.settled ? 0 : (this.sink?.oldestUnackedMs(now) ?? 0);
  }

  /** Read: queues a frame from the source and handles what is queued, in order. */
  private read(data: Buffer): void {
    this.frames.push(data);
    this.pump();
  }

  /** Handles queued frames in order, unless type information is being read or the session ends. */
  private pump(): void {
    try {
      while (this.frames.length > 0 && !this.resolvingTypes && !this.stopping && !this.settled) {
        this.handle(this.frames.shift()!);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** One frame: frames → decode → transaction → route → publish → checkpoint. */
  private handle(data: Buffer): void {
    const frame = parseFrame(data);
    if (frame.tag === 'keepalive') return this.keepalive(frame);
    this.received = maxLsn(this.received, frame.walStart);
    this.apply(this.decode(frame.data));
    if (!this.windowFull && this.checkpoint.inFlight >= this.settings.maxInFlight) {
      this.windowFull = true;
      this.updateReading();
    }
  }

  /** A keepalive: its position may be confirmed when nothing is open or in flight. */
  private keepalive(frame: KeepaliveFrame): void {
    this.received = maxLsn(this.received, frame.walEnd);
    this.checkpoint.idle(frame.walEnd, this.assembler.inTransaction);
    if (frame.replyRequested) this.confirm(true);
  }

  /** Decode: one pgoutput message from the bytes of an XLogData frame. */
  private decode(data: Buffer): PgoutputMessage {
    return decodePgoutput(data);
  }

  /** Apply: a message to the open transaction; each change it yields is routed and published. */
  private apply(msg: PgoutputMessage): void {
    switch (msg.tag) {
      case 'begin':
        this.publishedInTx = 0;
        break;
      case 'type':
        this.parts.catalog.forget(msg.typeOid); // it may have changed: read it again when a relation uses it
        break;
      case 'relation': {
        const missing = this.missingOf(msg.columns.map((c) => c.typeOid));
        if (missing().length > 0) {
          return this.hold(async () => {
            await this.parts.catalog.complete(this.parts.source.readTypes, missing);
            this.assembler.apply(msg);
          });
        }
        break;
      }
      case 'commit':
        return this.commit(msg);
    }
    for (const change of this.assembler.apply(msg)) {
      if (change.kind === 'message' && change.prefix === WATERMARK_PREFIX) return this.watermark(change);
      const subject = this.route(change);
      if (subject === null) continue;
      this.publish(change, subject);
      if (change.kind === 'row' && this.backfill?.watching) this.backfill.changed(change);
      if (this.resolvingTypes) break; // a Truncate yields several changes, but never re-reads types
    }
  }

  /** Route: the subject of a change, or null (counted) when the filter leaves it out. */
  private route(change: Change): string | null {
    const subject = this.parts.router().routeChange(change);
    if (subject === null) this.parts.metrics.filteredCount++;
    return subject;
  }

  /**
   * Publish: encodes a change and hands it to the sink. A value of a user-defined type that does
   * not match the catalog follows the policy of `event/type-refresh.ts`.
   */
  private publish(change: Change, subject: string): void {
    let body;
    try {
      body = encodeChange(change);
    } catch (err) {
      if (!mayBeStale(err, change)) throw err;
      return this.publishStale(change, subject);
    }
    this.send(subject, body, changeMeta(change));
    this.countPublished(change);
  }

  /** Publishes a row whose values did not match the catalog: after reading its types again when due. */
  private publishStale(change: RowChange, subject: string): void {
    const { relation } = change;
    const { log, catalog, source } = this.parts;
    const asText: BadValue = textForStaleValue((column, cause) =>
      log.warn(
        { schema: relation.schema, table: relation.table, column: column.name, err: cause },
        'a value does not match its type as the catalog describes it now: published as text',
      ),
    );
    if (!this.typeRefresh.due(relation, Date.now())) {
      this.send(subject, encodeChange(change, asText), changeMeta(change));
      return this.countPublished(change);
    }
    log.info(
      { schema: relation.schema, table: relation.table },
      'a type changed: reading type information again',
    );
    // The row is encoded after the catalog is read: its values no longer point into the message.
    const later = detachRow(change);
    this.hold(async () => {
      catalog.clear();
      await catalog.complete(source.readTypes, this.missingOf(relation.columns.map((c) => c.typeOid)));
      this.assembler.rebuildWriters(relation);
      this.typeRefresh.refreshed(relation, Date.now());
      this.send(subject, encodeChange(later, asText), changeMeta(later));
      this.countPublished(later);
    });
  }

  /** A backfill's watermark: the chunk's rows are published here, in the watermark's transaction. */
  private watermark(change: MessageChange): void {
    const batch = this.backfill?.watermark(change);
    if (batch) this.hold(() => this.publishBatch(batch), 'publishing a backfill chunk failed');
  }

  /**
   * Publishes snapshot events: each row, then the table's end marker, at positions from the batch's
   * on; waits for room whenever the publish window is full. Not counted as the transaction's
   * events (its commit marker counts changes).
   */
  private async publishBatch(batch: SnapshotBatch): Promise<void> {
    const { relation, subject, rows, point } = batch;
    let position = batch.position;
    for (const row of rows) {
      if (this.checkpoint.inFlight >= this.settings.maxInFlight) await this.room();
      if (this.settled) return;
      this.sink!.publish(
        this.checkpoint.publish(),
        subject,
        writeSnapshotEvent(relation, row, point, position),
        snapshotMeta(point, position),
      );
      position++;
    }
    if (batch.end) {
      this.sink!.publish(
        this.checkpoint.publish(),
        subject,
        snapshotEndEvent(relation, point, position, batch.end),
        snapshotMeta(point, position),
      );
    }
  }

  /** Resolves once the publish window has room again (or the session ended). */
  private room(): Promise<void> {
    return new Promise((resolve) => {
      this.roomWaiter = resolve;
      if (this.settled || this.checkpoint.inFlight <= this.resumeBelow) this.wake();
    });
  }

  private wake(): void {
    const waiter = this.roomWaiter;
    this.roomWaiter = null;
    waiter?.();
  }

  /** What the backfill runner needs of this session. */
  private backfillContext(): Parameters<BackfillRunner['attach']>[0] {
    const { catalog, source, router } = this.parts;
    return {
      namespace: systemNamespace(source.systemId),
      relation: async (msg: RelationMessage): Promise<Relation> => {
        await catalog.complete(source.readTypes, this.missingOf(msg.columns.map((c) => c.typeOid)));
        return toRelation(msg, catalog);
      },
      subjectOf: (schema, table) => router().snapshotSubject(schema, table),
      publish: async (batch, drain) => {
        if (this.settled) throw new ReplicationError('the session ended');
        await this.publishBatch(batch);
        while (drain && !this.settled && this.checkpoint.inFlight > 0) await this.drained();
        if (this.settled) throw new ReplicationError('the session ended');
      },
    };
  }

  /** Resolves at the next ack (or when the session ends). */
  private drained(): Promise<void> {
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  /** Hands one event to the sink with its number. */
  private send(subject: string, body: Uint8Array, meta: EventMeta): void {
    this.sink!.publish(this.checkpoint.publish(), subject, body, meta);
    this.publishedInTx++;
  }

  private countPublished(change: Change): void {
    const { metrics } = this.parts;
    if (change.kind === 'row') {
      metrics.rowPublished(change.relation, change.relation.schema, change.relation.table, change.action);
    } else metrics.messageCount++;
  }

  /**
   * A commit: its marker (when configured) is published after the transaction's last event, then
   * the commit is recorded, so that its end LSN is confirmed once every event up to it is acked.
   */
  private commit(msg: CommitMessage): void {
    const open = this.assembler.openTransaction;
    const markerSubject = this.parts.router().commitSubject;
    if (markerSubject !== null && open && this.publishedInTx > 0) {
      const marker = commitMarker(open, this.publishedInTx);
      this.send(markerSubject, marker.body, marker.meta);
      this.parts.metrics.messageCount++;
    }
    this.assembler.apply(msg);
    this.checkpoint.commit(msg.endLsn, open?.info.commitTimeMs);
    this.parts.metrics.transactionCount++;
    this.backfill?.flushed(this.checkpoint.flushLsn);
  }

  /**
   * Confirm: sends a status update with the received position and the checkpointer's flush LSN,
   * when `force`d or when the cadence says one is due (then asking for a keepalive back).
   */
  private confirm(force: boolean): void {
    const flush = this.checkpoint.flushLsn;
    const now = Date.now();
    if (!force && !this.cadence.due(flush, now)) return;
    this.parts.source.sendStatus({ write: this.received, flush }, !force);
    if (this.cadence.sent(flush, now)) this.progressMade = true;
  }

  /** The periodic look: a status update when due, and the position gauges. */
  private tick(): void {
    const { metrics } = this.parts;
    this.confirm(false);
    metrics.receivedLsn.set(Number(this.received));
    metrics.flushedLsn.set(Number(this.checkpoint.flushLsn));
    metrics.inFlight.set(this.checkpoint.inFlight);
  }

  private acked(seq: EventSeq, latencyMs: number): void {
    this.parts.metrics.pubAckLatency.observe(latencyMs / 1000);
    this.settle(seq);
  }

  /** An event the destination held already: settled without a publish. */
  private stored(seq: EventSeq): void {
    this.parts.metrics.alreadyStored.inc();
    this.settle(seq);
  }

  /** Event `seq` is stored: the checkpoint may pass it, and reading resumes when the window allows. */
  private settle(seq: EventSeq): void {
    this.checkpoint.acked(seq);
    if (this.windowFull && this.checkpoint.inFlight <= this.resumeBelow) {
      this.windowFull = false;
      this.updateReading();
    }
    if (this.backfill) {
      this.backfill.flushed(this.checkpoint.flushLsn);
      if (this.roomWaiter && this.checkpoint.inFlight <= this.resumeBelow) this.wake();
      const drained = this.drainWaiter;
      this.drainWaiter = null;
      drained?.();
    }
    if (this.stopping && this.checkpoint.inFlight === 0) this.finishStop();
  }

  private publishFailed(err: PgwalstreamsError): void {
    this.parts.metrics.publishErrors.inc();
    this.fail(err);
  }

  /** Pauses or resumes the source as the window, type reads and a stop require. */
  private updateReading(): void {
    const want = !this.windowFull && !this.resolvingTypes && !this.stopping;
    if (want === this.reading) return;
    this.reading = want;
    if (want) this.parts.source.resume();
    else this.parts.source.pause();
  }

  /**
   * Stops reading while `work` runs (a catalog read, snapshot rows being published), then handles
   * the frames queued meanwhile and reads on; a failure ends the session.
   */
  private hold(work: () => Promise<void>, failure = 'reading type information failed'): void {
    this.resolvingTypes = true;
    this.updateReading();
    work().then(
      () => {
        this.resolvingTypes = false;
        this.updateReading();
        this.pump();
      },
      (cause: unknown) =>
        this.fail(cause instanceof PgwalstreamsError ? cause : new ReplicationError(failure, { cause })),
    );
  }

  /** The types among `typeOids` (and what they are made of) the catalog does not know yet. */
  private missingOf(typeOids: readonly number[]): () => number[] {
    const { catalog } = this.parts;
    return () => [...new Set(typeOids.flatMap((oid) => missingTypes(oid, catalog)))];
  }

  /** A graceful stop: reading stops; outstanding acks are awaited up to the shutdown timeout. */
  private stop(): void {
    this.stopping = true;
    this.updateReading();
    if (this.checkpoint.inFlight === 0) return this.finishStop();
    this.stopTimer = setTimeout(() => this.finishStop(), this.settings.shutdownTimeoutMs).unref();
  }

  private finishStop(): void {
    if (this.settled) return;
    this.settled = true;
    this.parts.log.info(
      {
        slot: this.settings.slot.slot,
        flushedLsn: formatLsn(this.checkpoint.flushLsn),
        unacknowledged: this.checkpoint.inFlight,
      },
      'replication stopped',
    );
    void this.cleanup().then(() => this.finish?.resolve());
  }

  private fail(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    void this.cleanup().then(() => this.finish?.reject(err instanceof Error ? err : new Error(String(err))));
  }

  /** Confirms what was acknowledged (always safe: the checkpoint holds nothing else) and closes. */
  private async cleanup(): Promise<void> {
    this.backfill?.close();
    this.wake();
    this.drainWaiter?.();
    clearInterval(this.statusTimer);
    clearTimeout(this.stopTimer);
    this.signal?.removeEventListener('abort', this.onAbort);
    this.confirm(true);
    this.sink?.close();
    await this.parts.source.close();
  }
}

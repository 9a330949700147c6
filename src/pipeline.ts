/**
 * The pipeline: frames → decode → transaction → route → publish → checkpoint.
 *
 * One replication session reads the slot from its confirmed position. Every frame is decoded
 * as it arrives; each row change is routed and published at once, and its transaction's end
 * LSN is confirmed to PostgreSQL only after JetStream acknowledged every event up to it. When
 * too many events wait for a PubAck, the replication socket is not read until half of them are
 * acknowledged, so memory is bounded by the window, not by transaction size.
 *
 * Any retryable failure (PostgreSQL or NATS unreachable, a publish not acknowledged) ends the
 * session without confirming anything unacknowledged; a new session starts after a backoff and
 * resumes from the slot, and JetStream drops the events it already has by their `Nats-Msg-Id`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { Checkpointer } from './checkpoint/checkpointer.js';
import { DecodeError, isRetryable, ReplicationError } from './errors.js';
import {
  changeMeta,
  encodeChange,
  encodeCommitMarker,
  type BadValue,
  type EventMeta,
} from './event/change-event.js';
import { eventId, systemNamespace } from './event/event-id.js';
import { COMMIT_MARKER, TransactionAssembler, type Change, type Relation } from './event/transaction.js';
import { FIRST_GENBKI_OBJECT_ID, missingTypes } from './event/values.js';
import type { Logger } from './ops/log.js';
import type { Metrics } from './ops/metrics.js';
import { Router, type RouteSettings } from './route/router.js';
import { JetStreamSink } from './sink/jetstream-sink.js';
import { ensureStream, type StreamSettings } from './sink/stream-setup.js';
import { parseFrame } from './source/frames.js';
import { formatLsn, maxLsn } from './source/lsn.js';
import { decodePgoutput } from './source/pgoutput/decoder.js';
import {
  connectSql,
  prepare,
  ReplicationStream,
  type PgSettings,
  type SlotSettings,
} from './source/replication-connection.js';
import { TypeCatalog } from './source/type-catalog.js';

/** Everything the pipeline needs to know, taken from the configuration. */
export interface PipelineSettings {
  pg: PgSettings;
  slot: SlotSettings;
  /** Most events waiting for a PubAck at once. */
  maxInFlight: number;
  ackTimeoutMs: number;
  /** Stream to create when missing; absent: streams are managed outside. */
  stream?: StreamSettings | undefined;
  /** Filter and routing; replaced on a reload by `setRoutes`. */
  routes: RouteSettings;
  /** How long a graceful stop waits for outstanding PubAcks. */
  shutdownTimeoutMs: number;
}

/** How often at most the types of one table are read again after a value did not match. */
const TYPE_REFRESH_MS = 10_000;

/** True when a relation has a column whose type the catalog describes. */
function usesCatalogTypes(relation: Relation): boolean {
  return relation.columns.some((c) => c.typeOid >= FIRST_GENBKI_OBJECT_ID);
}

/** What the pipeline is doing. */
export type PipelineState = 'starting' | 'replicating' | 'standby' | 'retrying' | 'stopped' | 'failed';

const STANDBY_POLL_MS = 1000;
const STATUS_CHECK_MS = 500;
const STATUS_HEARTBEAT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The replication-to-JetStream loop, with retries. */
export class Pipeline {
  private router: Router;
  private readonly catalog = new TypeCatalog();
  private current: PipelineState = 'starting';

  constructor(
    private readonly settings: PipelineSettings,
    private readonly nc: NatsConnection,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    this.router = new Router(settings.routes);
    metrics.inFlightLimit.set(settings.maxInFlight);
  }

  /** What the pipeline is doing now (readiness is `replicating`). */
  get state(): PipelineState {
    return this.current;
  }

  private setState(state: PipelineState): void {
    this.current = state;
    this.metrics.replicating.set(state === 'replicating' ? 1 : 0);
    this.metrics.standby.set(state === 'standby' ? 1 : 0);
  }

  /** Replaces the filter and routing; takes effect from the next change. Never rewinds the slot. */
  setRoutes(routes: RouteSettings): void {
    this.router = new Router(routes);
  }

  /**
   * Runs until `signal` aborts (then stops gracefully and resolves) or a failure that a retry
   * cannot fix (then rejects with it).
   */
  async run(signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      const progress = { made: false };
      try {
        await this.session(signal, progress);
        this.setState('stopped');
        return;
      } catch (err) {
        this.metrics.postgresConnected.set(0);
        if (signal.aborted && isRetryable(err)) break;
        if (!isRetryable(err)) {
          this.setState('failed');
          throw err;
        }
        if (err instanceof ReplicationError && err.slotBusy) {
          // Another instance holds the slot: wait as a standby, looking every second, and take
          // over as soon as the slot is free. Nothing is published meanwhile.
          if (this.current !== 'standby') {
            this.log.info(
              { slot: this.settings.slot.slot, reason: err.message },
              'standby: another instance holds the slot',
            );
          }
          this.setState('standby');
          await sleep(STANDBY_POLL_MS, undefined, { signal }).catch(() => {});
          continue;
        }
        this.setState('retrying');
        this.metrics.sessionRetries.labels(err instanceof Error ? err.name : 'Error').inc();
        if (progress.made) attempt = 0;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt++) * (0.5 + Math.random() / 2);
        this.log.warn({ err, retryInMs: Math.round(delay) }, 'replication session failed, retrying');
        await sleep(delay, undefined, { signal }).catch(() => {});
      }
    }
    this.setState('stopped');
  }

  /** One replication session, from the slot's confirmed position until a stop or a failure. */
  private async session(signal: AbortSignal, progress: { made: boolean }): Promise<void> {
    const { settings, log, catalog } = this;
    const sql = await connectSql(settings.pg);
    let repl: ReplicationStream;
    let prepared;
    try {
      prepared = await prepare(sql, settings.slot);
      if (prepared.publicationCreated)
        log.info({ publication: settings.slot.publication }, 'publication created');
      if (prepared.slotCreated) log.info({ slot: settings.slot.slot }, 'replication slot created');
      if (settings.stream && (await ensureStream(this.nc, settings.stream))) {
        log.info({ stream: settings.stream.name }, 'jetstream stream created');
      }
      if (signal.aborted) throw new ReplicationError('stopped before replication started');
      repl = await ReplicationStream.connect(settings.pg);
    } catch (err) {
      await sql.end().catch(() => {});
      if (signal.aborted) return;
      throw err;
    }

    const start = prepared.confirmedFlush;
    const metrics = this.metrics;
    const checkpoint = new Checkpointer(start, (_lsn, commitTimeMs) => {
      if (commitTimeMs > 0) metrics.commitToAck.observe(Math.max(0, Date.now() - commitTimeMs) / 1000);
    });
    const assembler = new TransactionAssembler(systemNamespace(repl.systemId), catalog);
    let received = start;
    let sentFlush = -1n;
    let lastStatusAt = 0;
    let stopping = false;
    // Reading stops while the publish window is full, or while type information is being read.
    let windowFull = false;
    let resolvingTypes = false;
    let reading = true;
    const frames: Buffer[] = [];
    let publishedInTx = 0;
    const typesReadAt = new WeakMap<Relation, number>();
    const resumeBelow = Math.max(1, Math.floor(settings.maxInFlight / 2));

    return new Promise<void>((resolve, reject) => {
      const updateReading = () => {
        const want = !windowFull && !resolvingTypes && !stopping;
        if (want === reading) return;
        reading = want;
        if (want) repl.resume();
        else repl.pause();
      };

      const sendStatus = (force: boolean) => {
        const flush = checkpoint.flushLsn;
        if (!force && flush === sentFlush && Date.now() - lastStatusAt < STATUS_HEARTBEAT_MS) return;
        // On the periodic heartbeat, ask for a keepalive: its position lets an idle slot advance.
        repl.sendStatus(received, flush, !force);
        if (flush !== sentFlush && sentFlush >= 0n) progress.made = true;
        sentFlush = flush;
        lastStatusAt = Date.now();
      };

      const sink = new JetStreamSink(
        this.nc,
        {
          acked: (seq, _duplicate, latencyMs) => {
            metrics.pubAckLatency.observe(latencyMs / 1000);
            checkpoint.acked(seq);
            if (windowFull && sink.inFlight <= resumeBelow) {
              windowFull = false;
              updateReading();
            }
            if (stopping && sink.inFlight === 0) finishStop();
          },
          failed: (err) => {
            metrics.publishErrors.inc();
            fail(err);
          },
        },
        { ackTimeoutMs: settings.ackTimeoutMs, window: settings.maxInFlight },
      );

      const publish = (subject: string, body: string | Uint8Array, meta: EventMeta) => {
        sink.publish(checkpoint.publish(), subject, body, meta);
        publishedInTx++;
      };

      const countPublished = (change: Change) => {
        if (change.kind === 'row') {
          metrics.rowPublished(change.relation, change.relation.schema, change.relation.table, change.action);
        } else metrics.messageCount++;
      };

      const statusTimer = setInterval(() => {
        sendStatus(false);
        metrics.receivedLsn.set(Number(received));
        metrics.flushedLsn.set(Number(checkpoint.flushLsn));
        metrics.inFlight.set(sink.inFlight);
      }, STATUS_CHECK_MS);
      let stopTimer: NodeJS.Timeout | undefined;
      let settled = false;

      const cleanup = async () => {
        clearInterval(statusTimer);
        clearTimeout(stopTimer);
        signal.removeEventListener('abort', onAbort);
        sendStatus(true); // the checkpoint only holds acknowledged positions: always safe to confirm
        sink.close();
        await repl.stop();
        await sql.end().catch(() => {});
      };

      const fail = (err: unknown) => {
        if (settled) return;
        settled = true;
        void cleanup().then(() => reject(err instanceof Error ? err : new Error(String(err))));
      };

      const finishStop = () => {
        if (settled) return;
        settled = true;
        log.info(
          {
            slot: settings.slot.slot,
            flushedLsn: formatLsn(checkpoint.flushLsn),
            unacknowledged: sink.inFlight,
          },
          'replication stopped',
        );
        void cleanup().then(resolve);
      };

      const onAbort = () => {
        // Stop reading; wait for outstanding PubAcks; confirm what was acknowledged; close.
        stopping = true;
        updateReading();
        if (sink.inFlight === 0) return finishStop();
        stopTimer = setTimeout(finishStop, settings.shutdownTimeoutMs);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      /** Stops reading while `work` (a catalog lookup) runs, then reads on; a failure ends the session. */
      const withTypes = (work: () => Promise<void>) => {
        resolvingTypes = true;
        updateReading();
        work().then(
          () => {
            resolvingTypes = false;
            updateReading();
            pump();
          },
          (cause: unknown) =>
            fail(
              cause instanceof DecodeError
                ? cause
                : new ReplicationError('reading type information failed', { cause }),
            ),
        );
      };
      const missingOf = (typeOids: readonly number[]) => () => [
        ...new Set(typeOids.flatMap((oid) => missingTypes(oid, catalog))),
      ];

      /**
       * Publishes a change. When a value of a user-defined type does not match what the catalog
       * says of the type (it changed, and the catalog only knows its current form), the types are
       * read again (at most every 10 s per table) and the change encoded anew; a value that still
       * does not match is published as its PostgreSQL text, with a warning, never dropped.
       */
      const publishChange = (change: Change, subject: string) => {
        let body;
        try {
          body = encodeChange(change);
        } catch (err) {
          if (!(err instanceof DecodeError) || change.kind !== 'row' || !usesCatalogTypes(change.relation))
            throw err;
          const relation = change.relation;
          const asText: BadValue = (column, text, cause) => {
            if (column.typeOid < FIRST_GENBKI_OBJECT_ID) throw cause;
            log.warn(
              { schema: relation.schema, table: relation.table, column: column.name, err: cause },
              'a value does not match its type as the catalog describes it now: published as text',
            );
            return JSON.stringify(text);
          };
          if (Date.now() - (typesReadAt.get(relation) ?? 0) < TYPE_REFRESH_MS) {
            publish(subject, encodeChange(change, asText), changeMeta(change));
            return countPublished(change);
          }
          log.info(
            { schema: relation.schema, table: relation.table },
            'a type changed: reading type information again',
          );
          // The row is encoded after the catalog is read: its values no longer point into the message.
          const later = {
            ...change,
            newTuple: change.newTuple?.detach() ?? null,
            oldTuple: change.oldTuple?.detach() ?? null,
          };
          return withTypes(async () => {
            catalog.clear();
            await catalog.complete(sql, missingOf(relation.columns.map((c) => c.typeOid)));
            assembler.rebuildWriters(relation);
            typesReadAt.set(relation, Date.now());
            publish(subject, encodeChange(later, asText), changeMeta(later));
            countPublished(later);
          });
        }
        publish(subject, body, changeMeta(change));
        countPublished(change);
      };

      /** Handles one frame: frames → decode → transaction → route → publish → checkpoint. */
      const handle = (data: Buffer) => {
        const frame = parseFrame(data);
        if (frame.tag === 'keepalive') {
          received = maxLsn(received, frame.walEnd);
          checkpoint.idle(frame.walEnd, assembler.inTransaction);
          if (frame.replyRequested) sendStatus(true);
          return;
        }
        received = maxLsn(received, frame.walStart);
        const msg = decodePgoutput(frame.data);
        switch (msg.tag) {
          case 'begin':
            publishedInTx = 0;
            break;
          case 'type':
            catalog.forget(msg.typeOid); // it may have changed: read it again when a relation uses it
            break;
          case 'relation': {
            const missing = missingOf(msg.columns.map((c) => c.typeOid));
            if (missing().length > 0) {
              return withTypes(async () => {
                await catalog.complete(sql, missing);
                assembler.apply(msg);
              });
            }
            break;
          }
          case 'commit': {
            const open = assembler.openTransaction;
            const markerSubject = this.router.commitSubject;
            if (markerSubject !== null && open && publishedInTx > 0) {
              const { idPrefix, lsnText, xid } = open.info;
              const meta = { idPrefix, idNumber: COMMIT_MARKER, lsn: lsnText, xid, position: null };
              const id = eventId(idPrefix, COMMIT_MARKER);
              publish(markerSubject, encodeCommitMarker(id, open, publishedInTx), meta);
              metrics.messageCount++;
            }
            assembler.apply(msg);
            checkpoint.commit(msg.endLsn, open?.info.commitTimeMs);
            metrics.transactionCount++;
            return;
          }
        }
        for (const change of assembler.apply(msg)) {
          const subject = this.router.routeChange(change);
          if (subject === null) {
            metrics.filteredCount++;
            continue;
          }
          publishChange(change, subject);
          if (resolvingTypes) break; // a Truncate yields several changes, but never re-reads types
        }
        if (!windowFull && sink.inFlight >= settings.maxInFlight) {
          windowFull = true;
          updateReading();
        }
      };

      /** Handles queued frames in order, unless type information is being read. */
      const pump = () => {
        try {
          while (frames.length > 0 && !resolvingTypes && !stopping && !settled) handle(frames.shift()!);
        } catch (err) {
          fail(err);
        }
      };

      repl.start(
        settings.slot,
        start,
        {
          closed: (err) => (stopping ? finishStop() : fail(err)),
          frame: (data) => {
            frames.push(data);
            pump();
          },
        },
        { messages: prepared.serverVersion >= 140000 },
      );
      const tookOver = this.current === 'standby';
      this.setState('replicating');
      metrics.postgresConnected.set(1);
      log.info(
        {
          slot: settings.slot.slot,
          publication: settings.slot.publication,
          startLsn: formatLsn(start),
          tookOver,
        },
        'replication started',
      );
      if (signal.aborted) onAbort();
    });
  }
}

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
import { isRetryable } from './errors.js';
import { encodeChangeEvent } from './event/change-event.js';
import { systemNamespace } from './event/event-id.js';
import { TransactionAssembler } from './event/transaction.js';
import type { Logger } from './ops/log.js';
import { Router, type RouteSettings } from './route/router.js';
import { JetStreamSink } from './sink/jetstream-sink.js';
import { ensureStream, type StreamSettings } from './sink/stream-setup.js';
import { parseFrame } from './source/frames.js';
import { formatLsn, maxLsn, type Lsn } from './source/lsn.js';
import { decodePgoutput } from './source/pgoutput/decoder.js';
import {
  connectSql,
  prepare,
  ReplicationStream,
  type PgSettings,
  type SlotSettings,
} from './source/replication-connection.js';

/** Everything the pipeline needs to know, taken from the configuration. */
export interface PipelineSettings {
  pg: PgSettings;
  slot: SlotSettings;
  /** Most events waiting for a PubAck at once. */
  maxInFlight: number;
  ackTimeoutMs: number;
  /** Stream to create when missing; absent: streams are managed outside. */
  stream?: StreamSettings | undefined;
  routes: RouteSettings;
  /** How long a graceful stop waits for outstanding PubAcks. */
  shutdownTimeoutMs: number;
}

/** Counters for operators; they only grow. */
export interface PipelineStats {
  published: number;
  acked: number;
  duplicates: number;
  filtered: number;
  transactions: number;
  sessions: number;
  receivedLsn: Lsn;
  flushedLsn: Lsn;
}

const STATUS_CHECK_MS = 500;
const STATUS_HEARTBEAT_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

/** The replication-to-JetStream loop, with retries. */
export class Pipeline {
  private router: Router;
  readonly stats: PipelineStats = {
    published: 0,
    acked: 0,
    duplicates: 0,
    filtered: 0,
    transactions: 0,
    sessions: 0,
    receivedLsn: 0n,
    flushedLsn: 0n,
  };

  constructor(
    private readonly settings: PipelineSettings,
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    this.router = new Router(settings.routes);
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
        return;
      } catch (err) {
        if (signal.aborted && isRetryable(err)) return;
        if (!isRetryable(err)) throw err;
        if (progress.made) attempt = 0;
        const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt++) * (0.5 + Math.random() / 2);
        this.log.warn({ err, retryInMs: Math.round(delay) }, 'replication session failed, retrying');
        await sleep(delay, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** One replication session, from the slot's confirmed position until a stop or a failure. */
  private async session(signal: AbortSignal, progress: { made: boolean }): Promise<void> {
    const { settings, log } = this;
    const sql = await connectSql(settings.pg);
    let prepared;
    try {
      prepared = await prepare(sql, settings.slot);
    } finally {
      await sql.end().catch(() => {});
    }
    if (prepared.publicationCreated)
      log.info({ publication: settings.slot.publication }, 'publication created');
    if (prepared.slotCreated) log.info({ slot: settings.slot.slot }, 'replication slot created');
    if (settings.stream && (await ensureStream(this.nc, settings.stream))) {
      log.info({ stream: settings.stream.name }, 'jetstream stream created');
    }
    if (signal.aborted) return;

    const repl = await ReplicationStream.connect(settings.pg);
    const start = prepared.confirmedFlush;
    const checkpoint = new Checkpointer(start);
    const assembler = new TransactionAssembler(systemNamespace(repl.systemId));
    const stats = this.stats;
    stats.sessions++;
    stats.receivedLsn = maxLsn(stats.receivedLsn, start);
    stats.flushedLsn = maxLsn(stats.flushedLsn, start);
    let received = start;
    let sentFlush = -1n;
    let lastStatusAt = 0;
    let paused = false;
    let stopping = false;
    const resumeBelow = Math.max(1, Math.floor(settings.maxInFlight / 2));

    return new Promise<void>((resolve, reject) => {
      const sendStatus = (force: boolean) => {
        const flush = checkpoint.flushLsn;
        if (!force && flush === sentFlush && Date.now() - lastStatusAt < STATUS_HEARTBEAT_MS) return;
        repl.sendStatus(received, flush);
        if (flush !== sentFlush && sentFlush >= 0n) progress.made = true;
        sentFlush = flush;
        lastStatusAt = Date.now();
        stats.flushedLsn = maxLsn(stats.flushedLsn, flush);
      };

      const sink = new JetStreamSink(
        this.nc,
        {
          acked: (seq, duplicate) => {
            stats.acked++;
            if (duplicate) stats.duplicates++;
            checkpoint.acked(seq);
            if (paused && sink.inFlight <= resumeBelow) {
              paused = false;
              repl.resume();
            }
            if (stopping && sink.inFlight === 0) finishStop();
          },
          failed: (err) => fail(err),
        },
        { ackTimeoutMs: settings.ackTimeoutMs },
      );

      const statusTimer = setInterval(() => sendStatus(false), STATUS_CHECK_MS);
      let stopTimer: NodeJS.Timeout | undefined;
      let settled = false;

      const cleanup = async () => {
        clearInterval(statusTimer);
        clearTimeout(stopTimer);
        signal.removeEventListener('abort', onAbort);
        sendStatus(true); // the checkpoint only holds acknowledged positions: always safe to confirm
        sink.close();
        await repl.stop();
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
        repl.pause();
        if (sink.inFlight === 0) return finishStop();
        stopTimer = setTimeout(finishStop, settings.shutdownTimeoutMs);
      };
      signal.addEventListener('abort', onAbort, { once: true });

      repl.start(settings.slot, start, {
        closed: (err) => (stopping ? finishStop() : fail(err)),
        frame: (data) => {
          if (stopping || settled) return;
          try {
            const frame = parseFrame(data);
            if (frame.tag === 'keepalive') {
              received = maxLsn(received, frame.walEnd);
              checkpoint.idle(frame.walEnd, assembler.inTransaction);
              if (frame.replyRequested) sendStatus(true);
              return;
            }
            received = maxLsn(received, frame.walStart);
            const msg = decodePgoutput(frame.data);
            if (msg.tag === 'commit') {
              assembler.apply(msg);
              checkpoint.commit(msg.endLsn);
              stats.transactions++;
              return;
            }
            for (const change of assembler.apply(msg)) {
              const subject = this.router.route(change.relation, change.action);
              if (subject === null) {
                stats.filtered++;
                continue;
              }
              sink.publish(checkpoint.publish(), subject, change.id, encodeChangeEvent(change));
              stats.published++;
            }
            if (!paused && sink.inFlight >= settings.maxInFlight) {
              paused = true;
              repl.pause();
            }
          } catch (err) {
            fail(err);
          } finally {
            stats.receivedLsn = received;
          }
        },
      });
      log.info(
        { slot: settings.slot.slot, publication: settings.slot.publication, startLsn: formatLsn(start) },
        'replication started',
      );
      if (signal.aborted) onAbort();
    });
  }
}

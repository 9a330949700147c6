/**
 * Prometheus metrics (prom-client). Every name is a constant below and documented in the README.
 * The per-event counters are plain numbers on the hot path (one map lookup by relation and an
 * addition) and are handed to prom-client when `/metrics` is read.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { ACTION_NAMES, actionIndex, type Action } from '../event/action.js';

/** Metric names. */
export const MetricName = {
  eventsPublished: 'pgwalstreams_events_published_total',
  eventsFiltered: 'pgwalstreams_events_filtered_total',
  messagesPublished: 'pgwalstreams_messages_published_total',
  transactions: 'pgwalstreams_transactions_total',
  publishErrors: 'pgwalstreams_publish_errors_total',
  alreadyStored: 'pgwalstreams_events_already_stored_total',
  sessionRetries: 'pgwalstreams_session_retries_total',
  pubAckLatency: 'pgwalstreams_puback_latency_seconds',
  commitToAck: 'pgwalstreams_commit_to_ack_seconds',
  receivedLsn: 'pgwalstreams_received_lsn',
  flushedLsn: 'pgwalstreams_flushed_lsn',
  serverWalLsn: 'pgwalstreams_server_wal_lsn',
  lagBytes: 'pgwalstreams_lag_bytes',
  slotRetainedWal: 'pgwalstreams_slot_retained_wal_bytes',
  slotSafeWalSize: 'pgwalstreams_slot_safe_wal_size_bytes',
  slotWalStatus: 'pgwalstreams_slot_wal_status',
  postgresConnected: 'pgwalstreams_postgres_connected',
  natsConnected: 'pgwalstreams_nats_connected',
  ready: 'pgwalstreams_ready',
  replicating: 'pgwalstreams_replicating',
  standby: 'pgwalstreams_standby',
  inFlight: 'pgwalstreams_inflight_events',
  inFlightLimit: 'pgwalstreams_inflight_limit',
  configReloads: 'pgwalstreams_config_reloads_total',
  configInfo: 'pgwalstreams_config_info',
  backfillRows: 'pgwalstreams_backfill_rows_total',
  backfillRowsEstimated: 'pgwalstreams_backfill_rows_estimated',
  backfillRowsPerSecond: 'pgwalstreams_backfill_rows_per_second',
  backfillsRunning: 'pgwalstreams_backfills_running',
} as const;

/**
 * A histogram without labels, cheap enough to observe once per event: a bucket array and two
 * sums. It hands the registry the same series a prom-client Histogram would
 * (`_bucket{le}`, `_sum`, `_count`). prom-client's own `Histogram` is not used because its
 * `observe()` costs several times as much, which one observation per event turns into a share of
 * the CPU per row: `npm run bench:histogram` measures both, and docs/PERFORMANCE.md has its figures.
 */
export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly buckets: readonly number[],
  ) {
    this.counts = new Array<number>(buckets.length + 1).fill(0);
  }

  /** Records one value (seconds). */
  observe(value: number): void {
    let i = 0;
    while (i < this.buckets.length && value > this.buckets[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  /** The series, as the registry formats them. */
  get() {
    let cumulative = 0;
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    this.buckets.forEach((le, i) => {
      cumulative += this.counts[i]!;
      values.push({ labels: { le }, value: cumulative, metricName: `${this.name}_bucket` });
    });
    values.push({ labels: { le: '+Inf' }, value: this.count, metricName: `${this.name}_bucket` });
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` });
    values.push({ labels: {}, value: this.count, metricName: `${this.name}_count` });
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values,
      aggregator: this.aggregator,
    });
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

/** The bucket bounds (seconds) of the latency histograms. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/**
 * Registers a `FastHistogram` with prom-client. Its `Metric` type is the union of prom-client's
 * own four classes, so no other collector fits it, while the registry only reads `name`, `help`,
 * `type` and `aggregator` and calls `get()` and `reset()`, all of which `FastHistogram` has
 * (`test/unit/metrics.test.ts` reads the series back through the registry).
 */
function registerHistogram(registry: Registry, histogram: FastHistogram): void {
  registry.registerMetric(histogram as unknown as Metric);
}

/** The process's metrics. */
export class Metrics {
  readonly registry = new Registry();
  private readonly published: Counter<'schema' | 'table' | 'action'>;
  /** Row events counted since the last scrape, by relation (any object standing for a table). */
  private readonly rowCounts = new Map<object, { schema: string; table: string; counts: number[] }>();
  /** Changes and messages left out by the filter, counted on the hot path. */
  filteredCount = 0;
  /** Logical messages and commit markers published, counted on the hot path. */
  messageCount = 0;
  /** Transactions received, counted on the hot path. */
  transactionCount = 0;
  readonly publishErrors: Counter;
  readonly alreadyStored: Counter;
  readonly sessionRetries: Counter<'reason'>;
  readonly pubAckLatency: FastHistogram;
  readonly commitToAck: FastHistogram;
  readonly receivedLsn: Gauge;
  readonly flushedLsn: Gauge;
  readonly serverWalLsn: Gauge;
  readonly lagBytes: Gauge;
  readonly slotRetainedWal: Gauge;
  readonly slotSafeWalSize: Gauge;
  readonly slotWalStatus: Gauge<'status'>;
  readonly postgresConnected: Gauge;
  readonly natsConnected: Gauge;
  readonly ready: Gauge<'reason'>;
  readonly replicating: Gauge;
  readonly standby: Gauge;
  readonly inFlight: Gauge;
  readonly inFlightLimit: Gauge;
  readonly configReloads: Counter<'result'>;
  private readonly configInfo: Gauge<'hash'>;
  readonly backfillRows: Counter<'backfill' | 'table'>;
  readonly backfillRowsEstimated: Gauge<'backfill' | 'table'>;
  readonly backfillRowsPerSecond: Gauge<'backfill' | 'table'>;
  readonly backfillsRunning: Gauge;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers });
    const M = MetricName;
    // Counters fed from plain numbers when scraped (arrow functions: `this` is the Metrics).
    this.published = new Counter({
      name: M.eventsPublished,
      help: 'Row events published (acknowledged or not yet).',
      labelNames: ['schema', 'table', 'action'],
      registers,
      collect: () => {
        for (const { schema, table, counts } of this.rowCounts.values()) {
          counts.forEach((n, i) => n > 0 && this.published.labels(schema, table, ACTION_NAMES[i]!).inc(n));
        }
        this.rowCounts.clear();
      },
    });
    const total = (name: string, help: string, read: () => number) => {
      const c: Counter = new Counter({
        name,
        help,
        registers,
        collect: () => {
          c.reset();
          c.inc(read());
        },
      });
    };
    total(M.eventsFiltered, 'Changes and messages left out by the filter.', () => this.filteredCount);
    total(M.messagesPublished, 'Logical messages and commit markers published.', () => this.messageCount);
    total(M.transactions, 'Transactions received and committed.', () => this.transactionCount);
    this.publishErrors = counter(
      M.publishErrors,
      'Publishes JetStream did not acknowledge (the session is retried).',
    );
    this.alreadyStored = counter(
      M.alreadyStored,
      'Replayed events not sent again because the stream held them already (from an earlier session).',
    );
    this.sessionRetries = counter(M.sessionRetries, 'Replication sessions ended by a retryable failure.', [
      'reason',
    ]);
    this.pubAckLatency = new FastHistogram(
      M.pubAckLatency,
      'Time from publishing an event to its PubAck.',
      LATENCY_BUCKETS,
    );
    this.commitToAck = new FastHistogram(
      M.commitToAck,
      "Time from a transaction's commit in PostgreSQL to the PubAck of its last event.",
      LATENCY_BUCKETS,
    );
    for (const h of [this.pubAckLatency, this.commitToAck]) registerHistogram(this.registry, h);
    this.receivedLsn = gauge(M.receivedLsn, 'Newest WAL position received from PostgreSQL.');
    this.flushedLsn = gauge(
      M.flushedLsn,
      'WAL position confirmed to PostgreSQL (everything before it is in JetStream).',
    );
    this.serverWalLsn = gauge(M.serverWalLsn, "The server's current WAL position (polled).");
    this.lagBytes = gauge(
      M.lagBytes,
      "Bytes of WAL between the server's current position and the confirmed position.",
    );
    this.slotRetainedWal = gauge(
      M.slotRetainedWal,
      'Bytes of WAL the slot keeps on the server (from restart_lsn).',
    );
    this.slotSafeWalSize = gauge(
      M.slotSafeWalSize,
      'Bytes of WAL that can still be written before the slot is in danger of being invalidated (safe_wal_size; absent when unlimited).',
    );
    this.slotWalStatus = gauge(M.slotWalStatus, "The slot's wal_status (1 for the current one).", ['status']);
    this.postgresConnected = gauge(M.postgresConnected, '1 when the replication connection is up.');
    this.natsConnected = gauge(M.natsConnected, '1 when connected to NATS.');
    this.ready = gauge(
      M.ready,
      '1 for the reason the service is ready (replicating) or not (starting, standby, not_replicating, nats_disconnected, nats_not_answering, pubacks_overdue).',
      ['reason'],
    );
    this.replicating = gauge(M.replicating, '1 while a replication session streams.');
    this.standby = gauge(M.standby, '1 while waiting because another instance holds the slot.');
    this.inFlight = gauge(M.inFlight, 'Events published and not yet acknowledged.');
    this.inFlightLimit = gauge(
      M.inFlightLimit,
      'The most events that may wait for a PubAck (nats.maxInFlight).',
    );
    this.configReloads = counter(M.configReloads, 'Configuration file changes, applied or refused.', [
      'result',
    ]);
    this.configInfo = gauge(M.configInfo, 'The configuration in force (label hash).', ['hash']);
    this.backfillRows = counter(
      M.backfillRows,
      'Snapshot events of a backfill or initial snapshot acknowledged by JetStream.',
      ['backfill', 'table'],
    );
    this.backfillRowsEstimated = gauge(
      M.backfillRowsEstimated,
      "The planner's estimate of a backfilled table's rows.",
      ['backfill', 'table'],
    );
    this.backfillRowsPerSecond = gauge(
      M.backfillRowsPerSecond,
      'Rows per second of the backfill running, over its last chunks.',
      ['backfill', 'table'],
    );
    this.backfillsRunning = gauge(M.backfillsRunning, '1 while a backfill or initial snapshot runs.');
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts one published row event; `relation` is any object that stands for the table. */
  rowPublished(relation: object, schema: string, table: string, action: Action): void {
    let entry = this.rowCounts.get(relation);
    if (!entry) {
      entry = { schema, table, counts: [0, 0, 0, 0] };
      this.rowCounts.set(relation, entry);
    }
    entry.counts[actionIndex(action)]!++;
  }

  /** Records the configuration hash in force. */
  configInForce(hash: string): void {
    this.configInfo.reset();
    this.configInfo.labels(hash).set(1);
  }

  /** Records the slot's wal_status. */
  walStatus(status: string | null): void {
    this.slotWalStatus.reset();
    if (status) this.slotWalStatus.labels(status).set(1);
  }
}

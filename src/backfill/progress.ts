/**
 * Where backfills live: a JetStream key-value bucket (the engine users already run). One key per
 * backfill, `<slot>.<id>`, holding its `BackfillRecord` as JSON; `<slot>.<id>.cancel` asks the
 * service to cancel it. The `backfill` command creates records and cancel keys; only the service
 * that holds the slot writes a record afterwards, so the two never overwrite each other.
 *
 * A record is progress, not truth: what is stored is in the event stream. The service saves a
 * table's last key once the chunk that read it is acknowledged, and on a restart continues from
 * the later of that key and the last snapshot event of the backfill found in the stream
 * (`runner.ts`), so a chunk stored before a crash is never stored again.
 */
import { Kvm, type KV } from '@nats-io/kv';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PublishError } from '../errors.js';

/** The progress bucket does not exist: no backfill was asked for yet. */
export class BucketAbsent extends Error {
  constructor(readonly bucket: string) {
    super(`the key-value bucket ${bucket} does not exist yet`);
    this.name = 'BucketAbsent';
  }
}

/** What a backfill (or one of its tables) is doing. */
export type BackfillState = 'pending' | 'running' | 'done' | 'cancelled' | 'failed';

/** A table of a backfill and how far it got. */
export interface TableProgress {
  schema: string;
  table: string;
  state: BackfillState;
  /** The primary-key columns, in key order. */
  key: string[];
  /**
   * The key (its columns' text) of the last row of the last chunk done: every row up to it was
   * published or superseded by a change; null before the first chunk.
   */
  lastKey: string[] | null;
  /** Snapshot events published. */
  rows: number;
  /** The planner's estimate of the rows to read (`reltuples`), -1 when unknown. */
  estimate: number;
  /** Chunks done. */
  chunks: number;
  error?: string | undefined;
}

/** One backfill: an initial snapshot (made when the slot was created) or one asked for. */
export interface BackfillRecord {
  id: string;
  slot: string;
  kind: 'initial' | 'backfill';
  /** An SQL condition every row must meet, or null. */
  where: string | null;
  state: BackfillState;
  createdAt: string;
  updatedAt: string;
  /** When an initial snapshot read from the slot's exported snapshot: the consistent point. */
  consistentPoint?: string | undefined;
  error?: string | undefined;
  tables: TableProgress[];
}

/** The bucket's settings. */
export interface ProgressSettings {
  bucket: string;
  replicas: number;
}

/** True once a backfill will not change any more. */
export function isFinished(state: BackfillState): boolean {
  return state === 'done' || state === 'cancelled' || state === 'failed';
}

/** A new pending record of `kind` for `slot` (an initial snapshot's tables are listed when it starts). */
export function newRecord(
  slot: string,
  kind: BackfillRecord['kind'],
  tables: TableProgress[] = [],
  where: string | null = null,
): BackfillRecord {
  const now = new Date().toISOString();
  return {
    id: newBackfillId(kind),
    slot,
    kind,
    where,
    state: 'pending',
    createdAt: now,
    updatedAt: now,
    tables,
  };
}

/** A new backfill id: `bf-<UTC time to the second>-<4 hex digits>` (or `initial-…`), a valid key token. */
export function newBackfillId(kind: BackfillRecord['kind'], now = new Date()): string {
  const time = now.toISOString().replace(/[-:]/g, '').replace('T', '').slice(0, 14);
  const random = Math.floor(Math.random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return `${kind === 'initial' ? 'initial' : 'bf'}-${time}-${random}`;
}

/** The backfills of one slot in the bucket. */
export class BackfillStore {
  private constructor(
    private readonly kv: KV,
    private readonly slot: string,
  ) {}

  /**
   * Opens the bucket. With `create`, creates it when absent (the `backfill` command, an initial
   * snapshot); without, a missing bucket is a `BucketAbsent` error: no backfill was ever asked for.
   */
  static async open(
    nc: NatsConnection,
    settings: ProgressSettings,
    slot: string,
    options: { create: boolean } = { create: true },
  ): Promise<BackfillStore> {
    // No `$JS.API.INFO` check: a user without that grant is not refused for it.
    const kvm = new Kvm(jetstream(nc, { checkAPI: false }));
    try {
      if (!options.create) {
        // Opening a bucket does not look whether it exists: ask for its stream first.
        const jsm = await jetstreamManager(nc, { checkAPI: false });
        const exists = await jsm.streams.info(`KV_${settings.bucket}`).then(
          () => true,
          (err: unknown) => {
            if (err instanceof Error && /not found/i.test(err.message)) return false;
            throw err;
          },
        );
        if (!exists) throw new BucketAbsent(settings.bucket);
      }
      const kv = options.create
        ? await kvm.create(settings.bucket, { history: 1, replicas: settings.replicas })
        : await kvm.open(settings.bucket);
      return new BackfillStore(kv, slot);
    } catch (cause) {
      if (cause instanceof BucketAbsent) throw cause;
      throw new PublishError(
        `cannot open the key-value bucket ${settings.bucket} that holds backfill progress ` +
          `(${cause instanceof Error ? cause.message : String(cause)}): JetStream must be enabled and the NATS user ` +
          `needs publish permission on "$JS.API.STREAM.CREATE.KV_${settings.bucket}", "$JS.API.CONSUMER.CREATE.KV_${settings.bucket}.>", ` +
          `"$JS.API.DIRECT.GET.KV_${settings.bucket}.>" and "$KV.${settings.bucket}.>"`,
        { cause },
      );
    }
  }

  private key(id: string): string {
    return `${this.slot}.${id}`;
  }

  /** Writes a record (a new one, or progress of the service that holds the slot). */
  async save(record: BackfillRecord): Promise<void> {
    record.updatedAt = new Date().toISOString();
    await this.kv.put(this.key(record.id), JSON.stringify(record));
  }

  /** One record, or null. */
  async get(id: string): Promise<BackfillRecord | null> {
    const entry = await this.kv.get(this.key(id));
    if (!entry || entry.operation !== 'PUT' || entry.length === 0) return null;
    return entry.json<BackfillRecord>();
  }

  /** Every record of the slot, oldest first. */
  async list(): Promise<BackfillRecord[]> {
    const ids: string[] = [];
    for await (const key of await this.kv.keys(`${this.slot}.*`)) ids.push(key.slice(this.slot.length + 1));
    const records: BackfillRecord[] = [];
    for (const id of ids) {
      const record = await this.get(id);
      if (record) records.push(record);
    }
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Asks the service to cancel a backfill. */
  async requestCancel(id: string): Promise<void> {
    await this.kv.put(`${this.key(id)}.cancel`, new Date().toISOString());
  }

  /** True when a cancel was asked for. */
  async cancelRequested(id: string): Promise<boolean> {
    const entry = await this.kv.get(`${this.key(id)}.cancel`);
    return entry !== null && entry.operation === 'PUT';
  }
}

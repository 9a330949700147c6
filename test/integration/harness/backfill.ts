/** Backfills queued the way `pgwalstreams backfill` queues them: a pending record in the bucket. */
import type { NatsConnection } from '@nats-io/transport-node';
import { BackfillStore, newRecord } from '../../../src/backfill/progress.js';

/** The default progress bucket (`backfill.bucket`). */
export const BUCKET = 'pgwalstreams_backfill';

/** Queues a backfill of one table of the public schema for `slot` (creating the bucket when absent). */
export async function queueBackfill(
  nc: NatsConnection,
  slot: string,
  table: string,
  key: string[],
  options: { where?: string; bucket?: string; replicas?: number } = {},
): Promise<{ store: BackfillStore; id: string }> {
  const settings = { bucket: options.bucket ?? BUCKET, replicas: options.replicas ?? 1 };
  const store = await BackfillStore.open(nc, settings, slot, { create: true });
  const record = newRecord(
    slot,
    'backfill',
    [{ schema: 'public', table, state: 'pending', key, lastKey: null, rows: 0, estimate: -1, chunks: 0 }],
    options.where ?? null,
  );
  await store.save(record);
  return { store, id: record.id };
}

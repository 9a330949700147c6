/** Backfills queued the way `pgwalstreams backfill` queues them: a pending record in the bucket. */
import type { NatsConnection } from '@nats-io/transport-node';
import { BackfillStore, newBackfillId, type BackfillRecord } from '../../../src/backfill/progress.js';

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
  const now = new Date().toISOString();
  const record: BackfillRecord = {
    id: newBackfillId('backfill'),
    slot,
    kind: 'backfill',
    where: options.where ?? null,
    state: 'pending',
    createdAt: now,
    updatedAt: now,
    tables: [
      { schema: 'public', table, state: 'pending', key, lastKey: null, rows: 0, estimate: -1, chunks: 0 },
    ],
  };
  await store.save(record);
  return { store, id: record.id };
}

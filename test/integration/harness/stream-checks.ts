/**
 * Checks of a whole stream against what committed, shared by the crash and delivery tests.
 */
import assert from 'node:assert/strict';
import { decodeEventId } from '../../../src/event/event-id.js';
import type { StoredEvent } from './jetstream.js';
import { startService, type Servers } from './scenario.js';

/** Rows per transaction, keyed by the `tx` column the scenarios write. */
export type Plan = Map<number, number>;

/**
 * Asserts that `events` hold every row of `plan` exactly once, transactions in commit order and
 * changes in transaction order.
 */
export function assertExactlyOnceInOrder(events: StoredEvent[], plan: Plan): void {
  const total = [...plan.values()].reduce((a, b) => a + b, 0);
  assert.equal(events.length, total, 'every change is stored');
  assert.equal(new Set(events.map((e) => e.event.id)).size, total, 'no change is stored twice');
  let prev: { lsn: bigint; position: number } | null = null;
  const perTx = new Map<number, number>();
  for (const e of events) {
    const { commitLsn, position } = decodeEventId(e.event.id);
    if (prev) {
      assert.ok(
        commitLsn > prev.lsn || (commitLsn === prev.lsn && position === prev.position + 1),
        `stream seq ${e.seq}: commit order and transaction order hold`,
      );
    }
    prev = { lsn: commitLsn, position };
    const tx = e.event.data['tx'] as number;
    perTx.set(tx, (perTx.get(tx) ?? 0) + 1);
  }
  assert.deepEqual(perTx, plan);
}

/** Commits one transaction of `rows` rows `(id, tx, v)` into `table`, ids from `firstId`. */
export async function insertTx(
  s: Pick<Servers, 'pg'>,
  table: string,
  tx: number,
  rows: number,
  firstId: number,
): Promise<void> {
  await s.pg.query(
    `INSERT INTO ${table} SELECT g, ${tx}, 'row ' || g || repeat('.', 50) FROM generate_series(${firstId}, ${firstId + rows - 1}) g`,
  );
}

/**
 * Starts the service on `config` and commits one row (transaction `tx`, id `id`) into `table`:
 * asserts that the service refuses the stream at that first event, saying its last message is
 * another publisher's, and exits with 1.
 */
export async function assertStreamRefusedAtStart(
  s: Pick<Servers, 'pg'>,
  config: Record<string, unknown>,
  table: string,
  tx: number,
  id: number,
): Promise<void> {
  const again = await startService(config);
  try {
    await insertTx(s, table, tx, 1, id);
    assert.equal((await again.exited).code, 1);
    assert.ok(
      again.logs.some((l) =>
        /captures subjects of this pgwalstreams, but its last message .* was not published by it/.test(l.msg),
      ),
      'the stream is refused',
    );
  } finally {
    await again.dispose();
  }
}

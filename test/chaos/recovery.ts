/**
 * Recovery time, measured with a probe: right after a fault ends, the fault loop commits one probe
 * row (a ledger transaction like any other) and then watches for it.
 *
 * - **stored**: from the fault's end to the moment nats-server stored the probe's event, by the
 *   server's own timestamp on the message: the first change committed after the fault is in the
 *   stream, so consumers see new changes again.
 * - **confirmed**: from the fault's end to the first poll (every 100 ms) that finds the slot's
 *   confirmed position past the probe's commit: pgwalstreams has had every event up to the probe
 *   acknowledged (the contract forbids confirming past a missing one), so the stream is whole
 *   again up to there. This includes pgwalstreams' 500 ms cadence of status updates.
 *
 * Stored can come before confirmed by a lot when events before the probe were lost and wait for a
 * replay: that gap is what an order inversion looks like from outside.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { parseLsn } from '../../src/source/lsn.js';
import { waitFor } from '../integration/harness/wait.js';
import type { Environment } from './environment.js';
import { PROBE } from './schema.js';
import type { Writer } from './workload.js';

export interface Recovery {
  /** From the fault's end to the probe's COMMIT returning (PostgreSQL may still be starting). */
  probeCommitMs: number;
  /** See the module comment; undefined when it did not happen within the timeout. */
  storedMs: number | undefined;
  confirmedMs: number | undefined;
}

export class Prober {
  private n = 0;
  private jsm: JetStreamManager | undefined;

  constructor(
    private readonly env: Environment,
    private readonly writer: Writer,
  ) {}

  /** Commits a probe row now and measures, from `since`, when it is stored and confirmed. */
  async measure(since: number, timeoutMs: number): Promise<Recovery> {
    const n = ++this.n;
    const committedAt = await this.writer.probe(n);
    const recovery: Recovery = {
      probeCommitMs: committedAt - since,
      storedMs: undefined,
      confirmedMs: undefined,
    };
    const deadline = committedAt + timeoutMs;
    const stored = await this.stored(n, deadline).catch(() => undefined);
    if (!stored) return recovery;
    recovery.storedMs = stored.at - since;
    const confirmedAt = await this.confirmed(stored.commitLsn, deadline).catch(() => undefined);
    if (confirmedAt !== undefined) recovery.confirmedMs = confirmedAt - since;
    return recovery;
  }

  /** Waits until probe `n` (or a later one) is the last probe event stored; its store time and commit LSN. */
  private async stored(n: number, deadline: number): Promise<{ at: number; commitLsn: bigint }> {
    const subject = `${this.env.names.prefix}.public.${PROBE.name}.insert`;
    return waitFor(
      async () => {
        try {
          this.jsm ??= await jetstreamManager(this.env.nc, { checkAPI: false });
          const message = await this.jsm.streams.getMessage(this.env.names.stream, { last_by_subj: subject });
          if (!message) return undefined;
          const event = message.json<{ data: { id: number } }>();
          if (event.data.id < n) return undefined;
          return { at: message.time.getTime(), commitLsn: parseLsn(message.header.get('Pgwalstreams-Lsn')) };
        } catch {
          return undefined; // the server is away, or the client reconnecting
        }
      },
      { what: `probe ${n} in the stream`, timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 50 },
    );
  }

  /** Waits until the slot's confirmed position is past `commitLsn`; the time of that poll. */
  private async confirmed(commitLsn: bigint, deadline: number): Promise<number> {
    return waitFor(
      async () => {
        const rows = await this.env.sql
          .query<{
            lsn: string | null;
          }>('SELECT confirmed_flush_lsn::text AS lsn FROM pg_replication_slots WHERE slot_name = $1', [
            this.env.names.slot,
          ])
          .catch(() => []);
        const lsn = rows[0]?.lsn;
        return lsn && parseLsn(lsn) > commitLsn ? Date.now() : undefined;
      },
      { what: 'the slot past the probe', timeoutMs: Math.max(0, deadline - Date.now()), intervalMs: 100 },
    );
  }
}

/**
 * The operator commands about the slot: `pgwalstreams status` (slot, publication, lag, retained
 * WAL, who holds it, backfills) and `pgwalstreams drop-slot` (for decommissioning; it needs `--yes`).
 */
import type pg from 'pg';
import type { CliIo } from '../cli.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { formatLsn } from '../source/lsn.js';
import { connectSql } from '../source/replication-connection.js';
import { readSlotStatus } from '../source/slot-status.js';
import { backfillStatusLines } from './backfill.js';
import { serviceSettings } from './settings.js';

/**
 * Loads the configuration, connects, and runs `work`; returns its exit status, or 2 for a
 * configuration error and 1 for a database error, each printed as one clear line.
 */
async function withDatabase(
  configPath: string,
  io: CliIo,
  work: (c: pg.Client, slot: string, publication: string, config: Config) => Promise<number>,
): Promise<number> {
  let client: pg.Client | undefined;
  try {
    const config = await loadConfig(configPath, io.env);
    const settings = serviceSettings(config);
    client = await connectSql(settings.pg);
    return await work(client, settings.slot.slot, settings.slot.publication, config);
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    io.stderr.write(`pgwalstreams: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
    return err instanceof ConfigError ? 2 : 1;
  } finally {
    await client?.end().catch(() => {});
  }
}

const mb = (bytes: number | null) =>
  bytes === null ? 'unknown' : `${(bytes / 1024 / 1024).toFixed(1)} MB (${bytes} bytes)`;

/** Prints the slot's state; exit status 0 when the slot exists and is healthy, 1 otherwise. */
export async function statusCommand(configPath: string, io: CliIo): Promise<number> {
  return withDatabase(configPath, io, async (client, slot, publication, config) => {
    const status = await readSlotStatus(client, slot);
    const pub = (
      await client.query<{ puballtables: boolean; tables: string }>(
        `SELECT p.puballtables, (SELECT count(*) FROM pg_publication_tables t WHERE t.pubname = p.pubname)::text AS tables
           FROM pg_publication p WHERE p.pubname = $1`,
        [publication],
      )
    ).rows[0];
    const lines = [
      `publication  ${publication}: ${pub ? (pub.puballtables ? 'FOR ALL TABLES' : `${pub.tables} tables`) : 'absent (created at start)'}`,
    ];
    if (!status) {
      lines.push(`slot         ${slot}: absent (created at start)`, ...(await backfillStatusLines(config)));
      io.stdout.write(lines.join('\n') + '\n');
      return 1;
    }
    lines.push(
      `slot         ${slot}`,
      `  held by    ${status.activePid === null ? 'nobody (no instance is replicating)' : `pid ${status.activePid}`}`,
      `  confirmed  ${status.confirmedFlushLsn === null ? 'none' : formatLsn(status.confirmedFlushLsn)} (server at ${formatLsn(status.walLsn)})`,
      `  lag        ${mb(status.lagBytes)}`,
      `  retained   ${mb(status.retainedBytes)} of WAL kept on the server for this slot`,
      `  wal_status ${status.walStatus ?? 'unknown'}${status.safeWalSize === null ? '' : `, ${mb(status.safeWalSize)} until it is at risk`}`,
      ...(await backfillStatusLines(config)),
    );
    io.stdout.write(lines.join('\n') + '\n');
    return status.walStatus === 'lost' ? 1 : 0;
  });
}

/**
 * Drops the slot so that the server stops keeping WAL for it. Without `confirmed` it only says
 * what it would do (exit 2); it refuses while an instance holds the slot (exit 1).
 */
export async function dropSlotCommand(configPath: string, confirmed: boolean, io: CliIo): Promise<number> {
  return withDatabase(configPath, io, async (client, slot) => {
    const status = await readSlotStatus(client, slot);
    if (!status) {
      io.stdout.write(`slot ${slot} does not exist: nothing to drop\n`);
      return 0;
    }
    if (status.activePid !== null) {
      io.stderr.write(
        `pgwalstreams: slot ${slot} is in use by pid ${status.activePid}: stop every pgwalstreams instance first\n`,
      );
      return 1;
    }
    if (!confirmed) {
      io.stderr.write(
        `pgwalstreams: this drops slot ${slot}; changes not yet published (${mb(status.lagBytes)}) are lost for good, ` +
          'and a new slot starts from the present. Run again with --yes to drop it.\n',
      );
      return 2;
    }
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    io.stdout.write(`dropped slot ${slot}\n`);
    return 0;
  });
}

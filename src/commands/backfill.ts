/**
 * `pgwalstreams backfill <table>… [--where]`, `backfill list`, `backfill cancel <id>`: the operator's
 * side of backfills. They write to the progress bucket; the service that holds the slot runs them.
 * A backfill is refused before anything is written when a table does not exist, is not published
 * (publication or filter), has no primary key, or the condition is not one the server accepts.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import {
  BackfillStore,
  BucketAbsent,
  isFinished,
  newRecord,
  type BackfillRecord,
  type TableProgress,
} from '../backfill/progress.js';
import {
  checkWhere,
  describeTable,
  isPublished,
  keyProblem,
  pendingTable,
  tableName,
} from '../backfill/table-reader.js';
import type { CliIo } from '../cli.js';
import { loadConfig } from '../config/load.js';
import { natsConnectOptions } from '../config/nats-options.js';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { Router } from '../route/router.js';
import { connectSql } from '../source/replication-connection.js';
import { routeSettings, serviceSettings } from './settings.js';

/** Loads the configuration and runs `work`; one clear line and exit 2 (configuration) or 1 otherwise. */
async function withConfig(configPath: string, io: CliIo, work: (config: Config) => Promise<number>) {
  try {
    return await work(await loadConfig(configPath, io.env));
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    io.stderr.write(`pgwalstreams: ${err instanceof Error ? err.message : String(err)}${cause}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}

/** Opens the slot's progress bucket over a connection of its own, for `work`. */
async function withStore<T>(config: Config, create: boolean, work: (store: BackfillStore) => Promise<T>) {
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({
      ...natsConnectOptions(config.nats),
      name: 'pgwalstreams-backfill',
      inboxPrefix: '_pgw',
      timeout: 5000,
    }).catch((cause: unknown) => {
      throw new Error(`cannot connect to NATS at ${String(config.nats.address)}`, { cause });
    });
    const s = serviceSettings(config);
    return await work(await BackfillStore.open(nc, s.backfill, s.slot.slot, { create }));
  } finally {
    await nc?.close().catch(() => {});
  }
}

/** Queues a backfill of `tables`. */
export function backfillStartCommand(
  configPath: string,
  tables: readonly { schema: string; table: string }[],
  where: string | null,
  io: CliIo,
): Promise<number> {
  return withConfig(configPath, io, async (config) => {
    const settings = serviceSettings(config);
    const router = new Router(routeSettings(config));
    const sql: pg.Client = await connectSql(settings.pg);
    const problems: string[] = [];
    const progress: TableProgress[] = [];
    try {
      for (const t of tables) {
        const info = await describeTable(sql, t);
        if (!info) {
          problems.push(`table ${tableName(t)} does not exist`);
          continue;
        }
        if (!(await isPublished(sql, settings.slot.publication, t))) {
          problems.push(
            `table ${tableName(t)} is not in the publication ${settings.slot.publication}: add it (ALTER PUBLICATION … ADD TABLE …)`,
          );
          continue;
        }
        if (!router.publishesTable(t.schema, t.table)) {
          problems.push(
            `the filter database.filter.tables does not publish ${tableName(t)}: add it to the filter, or backfill a table it publishes`,
          );
          continue;
        }
        const problem = keyProblem(info);
        if (problem) {
          problems.push(problem);
          continue;
        }
        if (where !== null) {
          try {
            await checkWhere(sql, info, where);
          } catch (err) {
            problems.push(err instanceof Error ? err.message : String(err));
            continue;
          }
        }
        progress.push(pendingTable(info));
      }
    } finally {
      await sql.end().catch(() => {});
    }
    if (problems.length > 0) {
      for (const p of problems) io.stderr.write(`pgwalstreams: ${p}\n`);
      io.stderr.write('pgwalstreams: no backfill was queued\n');
      return 1;
    }
    const record = newRecord(settings.slot.slot, 'backfill', progress, where);
    await withStore(config, true, (store) => store.save(record));
    const list = progress
      .map((t) => `${tableName(t)}${t.estimate >= 0 ? ` (about ${t.estimate} rows)` : ''}`)
      .join(', ');
    io.stdout.write(
      `backfill ${record.id} queued: ${list}; the service that holds slot ${record.slot} runs it ` +
        `(follow it with pgwalstreams backfill list)\n`,
    );
    return 0;
  });
}

/** One record as text. */
function describe(r: BackfillRecord): string {
  const lines = [
    `${r.id}  ${r.kind}  ${r.state}  created ${r.createdAt}  updated ${r.updatedAt}` +
      (r.where !== null ? `  where ${r.where}` : '') +
      (r.error ? `  error: ${r.error}` : ''),
  ];
  for (const t of r.tables) {
    lines.push(
      `  ${tableName(t)}  ${t.state}  ${t.rows} rows` +
        (t.estimate >= 0 ? ` of about ${t.estimate}` : '') +
        `  ${t.chunks} chunks` +
        (t.error ? `  error: ${t.error}` : ''),
    );
  }
  return lines.join('\n');
}

/**
 * The backfill lines of `pgwalstreams status`: each backfill not yet ended with its progress, and
 * how many ended. Best effort: NATS out of reach, or no bucket, is said in one line.
 */
export async function backfillStatusLines(config: Config): Promise<string[]> {
  try {
    const records = await withStore(config, false, (store) => store.list());
    const open = records.filter((r) => !isFinished(r.state));
    const ended = records.length - open.length;
    const endedNote = ended > 0 ? ` (${ended} ended: pgwalstreams backfill list)` : '';
    if (open.length === 0) return [`backfills    none running${endedNote}`];
    return [
      `backfills    ${open.length} not ended${endedNote}`,
      ...open.flatMap((r) =>
        describe(r)
          .split('\n')
          .map((l) => `  ${l}`),
      ),
    ];
  } catch (err) {
    if (err instanceof BucketAbsent) return ['backfills    none (no progress bucket)'];
    const why = err instanceof Error ? err.message : String(err);
    return [`backfills    unknown: ${why}`];
  }
}

/** Prints the slot's backfills. */
export function backfillListCommand(configPath: string, io: CliIo): Promise<number> {
  return withConfig(configPath, io, async (config) => {
    const slot = config.listener.slotName;
    const records = await withStore(config, false, (store) => store.list()).catch((err: unknown) => {
      if (err instanceof BucketAbsent) return [];
      throw err;
    });
    io.stdout.write(
      records.length === 0 ? `no backfills for slot ${slot}\n` : `${records.map(describe).join('\n')}\n`,
    );
    return 0;
  });
}

/** Asks the service to cancel a backfill. */
export function backfillCancelCommand(configPath: string, id: string, io: CliIo): Promise<number> {
  return withConfig(configPath, io, async (config) => {
    const slot = config.listener.slotName;
    return withStore(config, false, async (store) => {
      const record = await store.get(id);
      if (!record) {
        io.stderr.write(`pgwalstreams: no backfill ${id} for slot ${slot}: see pgwalstreams backfill list\n`);
        return 1;
      }
      if (isFinished(record.state)) {
        io.stdout.write(`backfill ${id} already ended: ${record.state}\n`);
        return 0;
      }
      await store.requestCancel(id);
      io.stdout.write(`cancel of ${id} requested: the service stops it after the chunk in progress\n`);
      return 0;
    }).catch((err: unknown) => {
      if (!(err instanceof BucketAbsent)) throw err;
      io.stderr.write(`pgwalstreams: no backfill ${id} for slot ${slot}: there are no backfills yet\n`);
      return 1;
    });
  });
}

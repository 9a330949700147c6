/**
 * The reload split: which settings a running pipeline can apply without a restart
 * (`database.filter`, `nats.topicPrefix`, `nats.transactionEvents`, `logger.level`), which need
 * one, and which of the latter differ between two configurations.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Config } from './schema.js';
import { formatPath, isMapping } from './tree.js';

/** The settings that a running pipeline can apply without a restart: filter and routing, log level. */
export interface ReloadableConfig {
  filter: Config['database']['filter'];
  topicPrefix: Config['nats']['topicPrefix'];
  transactionEvents: Config['nats']['transactionEvents'];
  logLevel: Config['logger']['level'];
}

/** The settings that need a restart to change. */
export type StaticConfig = Omit<Config, 'database' | 'nats' | 'logger'> & {
  database: Omit<Config['database'], 'filter'>;
  nats: Omit<Config['nats'], 'topicPrefix' | 'transactionEvents'>;
  logger: Omit<Config['logger'], 'level'>;
};

/**
 * Splits a configuration into what a reload may change (`database.filter`, `nats.topicPrefix`,
 * `nats.transactionEvents`, `logger.level`) and the rest (connections, slot, publication, stream).
 */
export function splitReloadable(config: Config): { reloadable: ReloadableConfig; static: StaticConfig } {
  const { filter, ...database } = config.database;
  const { topicPrefix, transactionEvents, ...nats } = config.nats;
  const { level, ...logger } = config.logger;
  return {
    reloadable: { filter, topicPrefix, transactionEvents, logLevel: level },
    static: { ...config, database, nats, logger },
  };
}

function diffPaths(a: unknown, b: unknown, path: readonly string[], out: string[]): void {
  if (isMapping(a) && isMapping(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      diffPaths(a[key], b[key], [...path, key], out);
    }
  } else if (!isDeepStrictEqual(a, b)) {
    out.push(formatPath(path));
  }
}

/**
 * The dotted paths of the non-reloadable keys that differ between two configurations, such as
 * `listener.slotName`: a reload cannot apply them, so the caller logs that they need a restart.
 * Lists and absent sections count as one key (`nats.address`, `nats.stream`).
 */
export function describeStaticChanges(oldConfig: Config, newConfig: Config): string[] {
  const out: string[] = [];
  diffPaths(splitReloadable(oldConfig).static, splitReloadable(newConfig).static, [], out);
  return out;
}

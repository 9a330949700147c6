/**
 * The reload split: which settings a running pipeline can apply without a restart
 * (`database.filter`, `nats.topicPrefix`, `nats.transactionEvents`, `logger.level`), which need
 * one, which of the latter differ between two configurations, and the reloads refused because
 * of what the running service set up.
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigProblem } from '../errors.js';
import type { Config } from './schema.js';
import { formatPath, isMapping, quote } from './tree.js';

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

/** True when the subject filter (`a.>`, `*.b.>`) takes in every subject under `prefix`. */
function coversPrefix(filter: string, prefix: string): boolean {
  const tokens = filter.split('.');
  const prefixTokens = prefix.split('.');
  const last = tokens.length - 1;
  return (
    tokens[last] === '>' &&
    last <= prefixTokens.length &&
    tokens.slice(0, last).every((t, i) => t === '*' || t === prefixTokens[i])
  );
}

/**
 * What keeps a valid new configuration from being applied to the running service (none: an
 * empty list). The stream pgwalstreams manages (`nats.stream`) was set up at start on its subjects
 * (by default `<topicPrefix>.>`); a topic prefix they do not take in would send every event, row
 * changes, messages and commit markers alike (all under `<topicPrefix>.>`), where no stream
 * stores it, and the service would retry for ever. Without `nats.stream` the stream is the
 * user's, and so is a prefix change.
 */
export function reloadProblems(running: Config, next: Config): ConfigProblem[] {
  const stream = running.nats.stream;
  const to = next.nats.topicPrefix;
  if (!stream || to === running.nats.topicPrefix || stream.subjects.some((s) => coversPrefix(s, to))) {
    return [];
  }
  return [
    {
      path: 'nats.topicPrefix',
      message:
        `cannot change to ${quote(to)} while pgwalstreams manages stream ` +
        `${stream.name}, whose subjects (${stream.subjects.join(', ')}) do not take in ${quote(`${to}.>`)}: ` +
        "update the stream's subjects and restart pgwalstreams with the new prefix, " +
        'or remove nats.stream to stop managing the stream',
    },
  ];
}

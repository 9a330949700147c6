/**
 * Live reload: each new version of the configuration file is validated, and its reloadable part
 * (filter, routing, log level) applied; the rest needs a restart and is reported as such.
 *
 * An invalid version, or one the running service cannot take (a topic prefix outside the stream
 * it manages), is refused with a log line and the last good configuration stays in force.
 * Applying a version only swaps routing for the changes still to come: it never rewinds the slot
 * and never touches an event already in flight.
 */
import { ConfigError } from '../errors.js';
import type { Logger } from '../ops/log.js';
import type { Metrics } from '../ops/metrics.js';
import { parseConfig } from './load.js';
import {
  describeStaticChanges,
  reloadProblems,
  splitReloadable,
  type ReloadableConfig,
} from './reloadable.js';
import type { Config } from './schema.js';
import { ConfigWatcher, configHash } from './watch.js';

/** Where a new reloadable configuration goes. */
export type ApplyReloadable = (reloadable: ReloadableConfig, config: Config) => void;

/** Watches the configuration file and applies each valid new version. */
export class ConfigReloader {
  private readonly watcher: ConfigWatcher;
  private activeHash: string;

  /**
   * @param running the configuration the process started with (its static part stays in force).
   * @param text the text it was read from.
   */
  constructor(
    private readonly path: string,
    private readonly running: Config,
    text: string,
    private readonly apply: ApplyReloadable,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    options: { debounceMs?: number; pollMs?: number } = {},
  ) {
    this.activeHash = configHash(text);
    metrics.configInForce(this.activeHash);
    this.watcher = new ConfigWatcher(path, this.activeHash, {
      ...options,
      changed: ({ text: next, hash }) => this.reload(next, hash),
      failed: (err) => log.warn({ err, path }, 'cannot read or watch the configuration file; retrying'),
    });
  }

  /** The hash of the configuration in force. */
  get hash(): string {
    return this.activeHash;
  }

  /** Looks at the file now (SIGHUP). */
  check(): Promise<void> {
    return this.watcher.check();
  }

  /** Stops watching. */
  close(): void {
    this.watcher.close();
  }

  /** Logs and counts a version that is not applied; the one in force stays. */
  private refuse(err: unknown, hash: string): void {
    this.log.error(
      {
        err: err instanceof ConfigError ? { message: err.message } : err,
        path: this.path,
        hash,
        activeHash: this.activeHash,
      },
      'configuration change refused: the last good configuration stays in force',
    );
    this.metrics.configReloads.labels('refused').inc();
  }

  private reload(text: string, hash: string): void {
    let next: Config;
    try {
      next = parseConfig(text, process.env, undefined, this.path);
    } catch (err) {
      this.refuse(err, hash);
      return;
    }
    const problems = reloadProblems(this.running, next);
    if (problems.length > 0) {
      this.refuse(new ConfigError(`cannot apply ${this.path} to the running service`, problems), hash);
      return;
    }
    const restart = describeStaticChanges(this.running, next);
    if (restart.length > 0) {
      this.log.warn(
        { keys: restart, path: this.path },
        'configuration changes that need a restart were not applied',
      );
    }
    const { reloadable } = splitReloadable(next);
    this.apply(reloadable, next);
    this.activeHash = hash;
    this.metrics.configReloads.labels('applied').inc();
    this.metrics.configInForce(hash);
    this.log.info(
      {
        hash,
        tables: Object.keys(reloadable.filter.tables),
        messages: reloadable.filter.messages ?? 'all',
        topicPrefix: reloadable.topicPrefix,
      },
      'configuration reloaded',
    );
  }
}

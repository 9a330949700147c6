/**
 * Watching the configuration file for changes, in every way it can change.
 *
 * Kubernetes updates a ConfigMap volume by writing a new timestamped directory and renaming a
 * `..data_tmp` symlink over `..data`; the file itself is a symlink through `..data`, so a watch on
 * the file sees the first swap and then nothing (it watches a deleted inode). Editors save by
 * renaming a new file over the old one; others write in place. So the directory is watched, events
 * are debounced, and the file's content is read and compared by hash: only a real change is
 * reported. A slow poll backs this up (lost events, inotify limits), and `check()` lets SIGHUP
 * force a look.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** A new version of the file's content. */
export interface ConfigChange {
  text: string;
  /** First 12 hex digits of the content's SHA-256. */
  hash: string;
}

/** Options of the watcher. */
export interface ConfigWatcherOptions {
  /** Quiet time after the last file system event before the file is read. */
  debounceMs?: number;
  /** Interval of the fallback poll. */
  pollMs?: number;
  /** Called with each new content (never twice in a row with the same content). */
  changed(change: ConfigChange): void;
  /** Called when the file cannot be read or the directory not watched; the watcher goes on. */
  failed(err: unknown): void;
  /** Called after each look at the file (changed, unchanged or unreadable), after the reports; for tests. */
  checked?(): void;
}

/** The hash by which configuration versions are told apart (and shown in logs). */
export function configHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

/** Watches one configuration file (through its directory). */
export class ConfigWatcher {
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;
  private reading: Promise<void> = Promise.resolve();
  private closed = false;

  /** @param lastHash the hash of the content already in force. */
  constructor(
    private readonly path: string,
    private lastHash: string,
    private readonly options: ConfigWatcherOptions,
  ) {
    this.watchDirectory();
    this.poll = setInterval(() => void this.check(), options.pollMs ?? 30_000);
    this.poll.unref();
  }

  /** Reads the file now and reports it if its content changed. Checks never overlap. */
  check(): Promise<void> {
    this.reading = this.reading.then(async () => {
      if (this.closed) return;
      await this.look();
      this.options.checked?.();
    });
    return this.reading;
  }

  /** Stops watching. */
  close(): void {
    this.closed = true;
    clearTimeout(this.debounce);
    clearInterval(this.poll);
    this.watcher?.close();
  }

  /** Reads the file once and reports its content if it changed. */
  private async look(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      this.options.failed(err);
      return;
    }
    const hash = configHash(text);
    if (hash === this.lastHash || this.closed) return;
    this.lastHash = hash;
    this.options.changed({ text, hash });
  }

  private watchDirectory(): void {
    try {
      // ConfigMap swaps show up as `..data` / `..data_tmp`, editors as the file or temp files next
      // to it: any event in the directory is worth a (debounced, hash-checked) look.
      this.watcher = watch(dirname(this.path), { persistent: false }, () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.check(), this.options.debounceMs ?? 300);
      });
      this.watcher.on('error', (err) => {
        this.options.failed(err);
        this.watcher?.close();
        this.watcher = null; // the poll carries on
      });
    } catch (err) {
      this.options.failed(err);
    }
  }
}

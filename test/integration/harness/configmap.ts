/**
 * A faithful stand-in for a Kubernetes ConfigMap volume, as kubelet's AtomicWriter lays it out and
 * updates it: the data lives in a timestamped directory, `..data` is a symlink to it, and each
 * key is a symlink through `..data`. An update writes a new timestamped directory, points a
 * `..data_tmp` symlink at it, renames that over `..data` (the atomic step) and removes the old
 * directory. Watching the key's file directly goes silent after the first update; this is what
 * the reload tests must survive.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A ConfigMap-like volume with one key. */
export class ConfigMapVolume {
  /** The mounted directory. */
  readonly dir: string;
  /** The key's path, as a container sees it: `<dir>/<key>`. */
  readonly path: string;
  private current: string | null = null;
  private generation = 0;

  constructor(
    private readonly key: string,
    text: string,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-configmap-'));
    this.path = join(this.dir, key);
    this.update(text);
    symlinkSync(join('..data', key), this.path);
  }

  /** Replaces the key's content the way kubelet does. */
  update(text: string): void {
    const stamp = `..2026_11_24_00_00_00.${String(++this.generation).padStart(9, '0')}`;
    mkdirSync(join(this.dir, stamp));
    writeFileSync(join(this.dir, stamp, this.key), text);
    symlinkSync(stamp, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.current) rmSync(join(this.dir, this.current), { recursive: true, force: true });
    this.current = stamp;
  }

  /** Removes the volume. */
  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The configuration watcher on a real file system: every way a configuration file changes is
 * seen once per real change, and nothing else is reported.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { configHash, ConfigWatcher, type ConfigChange } from '../../src/config/watch.js';
import { ConfigMapVolume } from './harness/configmap.js';
import { waitFor } from './harness/wait.js';

function watchAll(path: string, initial: string, pollMs = 60_000) {
  const seen: ConfigChange[] = [];
  const errors: unknown[] = [];
  let looks = 0; // completed looks at the file, whether or not it changed
  const watcher = new ConfigWatcher(path, configHash(initial), {
    debounceMs: 50,
    pollMs,
    changed: (c) => seen.push(c),
    failed: (e) => errors.push(e),
    checked: () => looks++,
  });
  const until = (n: number) =>
    waitFor(() => seen.length >= n || undefined, { what: `${n} changes`, timeoutMs: 5000 });
  /** Waits until `n` more looks than now have completed. */
  const moreLooks = (n: number) => {
    const target = looks + n;
    return waitFor(() => looks >= target || undefined, {
      what: `${n} more looks at the file`,
      timeoutMs: 5000,
    });
  };
  return { seen, errors, watcher, until, moreLooks };
}

describe('configuration watcher', () => {
  test('a ConfigMap volume updated three times by a ..data symlink swap: three changes', async () => {
    const volume = new ConfigMapVolume('config.yml', 'v: 0\n');
    const { seen, errors, watcher, until } = watchAll(volume.path, 'v: 0\n');
    try {
      for (let v = 1; v <= 3; v++) {
        volume.update(`v: ${v}\n`);
        await until(v);
      }
      assert.deepEqual(
        seen.map((c) => c.text),
        ['v: 1\n', 'v: 2\n', 'v: 3\n'],
      );
      assert.equal(seen[2]!.hash, configHash('v: 3\n'));
      assert.deepEqual(errors, []);
    } finally {
      watcher.close();
      volume.dispose();
    }
  });

  test('in-place edits and rename-saves are seen; rewriting the same content is not a change', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-watch-'));
    const path = join(dir, 'config.yml');
    writeFileSync(path, 'a: 1\n');
    const { seen, watcher, until, moreLooks } = watchAll(path, 'a: 1\n');
    try {
      // GIVEN an in-place edit and a rename-save: THEN each is one change
      writeFileSync(path, 'a: 2\n'); // in place
      await until(1);
      writeFileSync(join(dir, '.config.yml.swp'), 'a: 3\n'); // an editor's rename-save
      renameSync(join(dir, '.config.yml.swp'), path);
      await until(2);
      // WHEN the same content is written again and an unrelated file appears
      writeFileSync(path, 'a: 3\n'); // same content again
      writeFileSync(join(dir, 'unrelated.txt'), 'x');
      // AND the watcher has looked after them: the explicit check (called before anything else
      // could run, so it began after the writes), then the look their directory events trigger
      // (looks never overlap, so one completing after the check began after it too)
      await watcher.check();
      await moreLooks(1);
      // THEN nothing more was reported
      assert.deepEqual(
        seen.map((c) => c.text),
        ['a: 2\n', 'a: 3\n'],
      );
    } finally {
      watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the poll finds a change the directory watch cannot see', async () => {
    // GIVEN the watched directory was replaced by another (same content): the watch now follows the
    // old directory and sees nothing of the new one
    const base = mkdtempSync(join(tmpdir(), 'pgwalstreams-watch-'));
    const dir = join(base, 'conf');
    const replacement = join(base, 'conf-new');
    mkdirSync(dir);
    mkdirSync(replacement);
    writeFileSync(join(dir, 'config.yml'), 'p: 1\n');
    writeFileSync(join(replacement, 'config.yml'), 'p: 1\n');
    const { seen, watcher, until, moreLooks } = watchAll(join(dir, 'config.yml'), 'p: 1\n', 300);
    try {
      renameSync(dir, join(base, 'conf-old'));
      renameSync(replacement, dir);
      // AND a look that began after the renames has completed (one in progress now may have begun
      // before them; the next cannot, as looks never overlap), which the poll brings even if the
      // old directory reports nothing
      await moreLooks(2);
      assert.equal(seen.length, 0, 'same content: no change');
      // WHEN the file in the new directory changes in place
      writeFileSync(join(dir, 'config.yml'), 'p: 2\n');
      // THEN the poll reports it
      await until(1);
      assert.equal(seen[0]!.text, 'p: 2\n');
    } finally {
      watcher.close();
      rmSync(base, { recursive: true, force: true });
    }
  });
});

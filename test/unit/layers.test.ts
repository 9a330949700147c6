/**
 * The shape of `src/`: imports only run downward through the layers below, and the pure modules
 * import nothing that does I/O. Each check is run on the real tree (nothing expected) and on a
 * small made-up tree with one fault (that fault expected), so that neither passes by not looking.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

/** `src/` of the repository; this file runs from dist/test/unit/. */
const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

/**
 * The units of `src/` (a folder, or a file at the top), lowest first. A unit may import from
 * itself and from units before it, never from one after it. One line holds units that import
 * nothing of each other.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors.ts', 'bytes.ts', 'code-cache.ts'],
  ['source'],
  ['event'],
  ['route'],
  ['ops'],
  ['checkpoint'],
  ['sink'],
  ['backfill'],
  ['config'],
  ['session.ts'],
  ['pipeline.ts'],
  ['cli.ts'],
  ['commands'],
  ['main.ts'],
];

/** Modules that do I/O (or log): never imported by a pure module. */
const IO_MODULES =
  /^(pg|pg-copy-streams|pino|pino-pretty|prom-client|@nats-io\/.*|node:(net|tls|http|https|fs|fs\/promises|child_process|dgram|dns))$/;

/** The pure modules: decoder, frames, positions, events, routing, checkpoint, frame batching. */
const PURE = [
  /^source\/pgoutput\//,
  /^source\/(frames|lsn|pg-time|type-info|standby-status)\.ts$/,
  /^event\//,
  /^route\/(?!router\.ts$)/, // router.ts imports the heartbeat prefix only, from source/slot-status.ts
  /^checkpoint\//,
  /^sink\/(hpub-batch|in-flight|sink)\.ts$/,
  /^backfill\/(window|row-key)\.ts$/,
];

/** Every `.ts` file under `dir`, by its path relative to `dir` with `/` separators. */
function readTree(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts'))
        files.set(relative(dir, path).split(sep).join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(dir);
  return files;
}

/** The specifiers a module imports: static imports, re-exports and dynamic `import()`. */
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s*'([^']+)'/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/^\s*import\s*'([^']+)'/gm)) found.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) found.push(m[1]!);
  return found;
}

/** The unit of a path relative to `src/`: its top folder, or the file itself at the top. */
function unitOf(path: string): string {
  const slash = path.indexOf('/');
  return slash < 0 ? path : path.slice(0, slash);
}

/** Where a relative specifier of `from` points, relative to `src/`, as the `.ts` it compiles from. */
function resolve(from: string, specifier: string): string {
  return normalize(join(dirname(from), specifier))
    .split(sep)
    .join('/')
    .replace(/\.js$/, '.ts');
}

/** The problems of a tree: upward imports, units without a layer, I/O in pure modules. */
function problems(tree: ReadonlyMap<string, string>): string[] {
  const rank = new Map<string, number>();
  LAYERS.forEach((units, i) => units.forEach((u) => rank.set(u, i)));
  const out: string[] = [];
  for (const unit of new Set([...tree.keys()].map(unitOf))) {
    if (!rank.has(unit)) out.push(`${unit} has no layer: add it to LAYERS where it belongs`);
  }
  for (const [file, text] of tree) {
    const own = rank.get(unitOf(file)) ?? -1;
    const pure = PURE.some((p) => p.test(file));
    for (const specifier of importsOf(text)) {
      if (!specifier.startsWith('.')) {
        if (pure && IO_MODULES.test(specifier)) out.push(`${file} is pure but imports ${specifier}`);
        continue;
      }
      const target = resolve(file, specifier);
      if (!tree.has(target)) out.push(`${file} imports ${specifier}, which is not in src/`);
      const theirs = rank.get(unitOf(target)) ?? -1;
      if (theirs > own)
        out.push(`${file} imports ${target} upward (${unitOf(file)} is below ${unitOf(target)})`);
    }
  }
  return out;
}

describe('layers of src/', () => {
  test('every import runs downward, every unit has a layer, and pure modules do no I/O', () => {
    const tree = readTree(SRC);
    assert.ok(tree.size > 50, `read ${tree.size} modules from ${SRC}`);
    assert.deepEqual(problems(tree), []);
  });

  test('the check finds an upward import, a unit without a layer and I/O in a pure module', () => {
    const tree = new Map([
      ['source/lsn.ts', "import { DecodeError } from '../errors.js';\n"],
      ['source/frames.ts', "import type { Relation } from '../event/transaction.js';\n"],
      ['event/transaction.ts', "import { formatLsn } from '../source/lsn.js';\n"],
      ['event/values.ts', "import pg from 'pg';\n"],
      ['commands/run.ts', "const m = await import('../source/lsn.js');\n"],
      ['utils/misc.ts', 'export {};\n'],
      ['errors.ts', 'export {};\n'],
    ]);
    assert.deepEqual(problems(tree).sort(), [
      'event/values.ts is pure but imports pg',
      'source/frames.ts imports event/transaction.ts upward (source is below event)',
      'utils has no layer: add it to LAYERS where it belongs',
    ]);
  });
});

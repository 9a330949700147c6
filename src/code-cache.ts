/**
 * Loads a CommonJS bundle with V8's code cache, which Node 20 does not keep for modules itself:
 * the service's bundle (dist/src/chunks/run.cjs, made by scripts/bundle.ts) is compiled from
 * the bytecode that the build saved next to it (`<file>.cache`) instead of from its source.
 * V8 takes the cache only when it was made by the same V8 version, with the same flags, from the
 * same source; otherwise (or when it is missing) it compiles the source as it always does, so a
 * cache that does not fit only costs the time to read it.
 *
 * Only the bundle uses this module; tsc's build of the commands imports them as usual.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** What a CommonJS module body is wrapped in, as Node's own loader does. */
const wrap = (source: string): string =>
  `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

function compile(file: string, cachedData: Buffer | undefined): { script: Script; exports: unknown } {
  const script = new Script(wrap(readFileSync(file, 'utf8')), {
    filename: file,
    ...(cachedData ? { cachedData } : {}),
  });
  const module = { exports: {} as unknown };
  const body = script.runInThisContext() as (...args: unknown[]) => void;
  body.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { script, exports: module.exports };
}

/**
 * Runs the CommonJS bundle `file` (with its code cache when it fits) and returns its exports.
 * Under `--enable-source-maps`, Node's own loader runs it instead, without the cache: Node maps
 * stack traces through the source maps of the modules it loaded itself, not of vm scripts.
 */
export function loadWithCodeCache(file: string): unknown {
  if (process.sourceMapsEnabled) return createRequire(import.meta.url)(file) as unknown;
  let cachedData: Buffer | undefined;
  try {
    cachedData = readFileSync(`${file}.cache`);
  } catch {
    cachedData = undefined;
  }
  return compile(file, cachedData).exports;
}

/**
 * Runs the bundle `file` and writes its code cache to `<file>.cache`: the bytecode of everything
 * compiled while its modules were loaded. Called by the build, in a Node.js started with the
 * flags the binary runs with, since V8 refuses a cache made under other flags.
 */
export function writeCodeCache(file: string): number {
  const { script } = compile(file, undefined);
  const data = script.createCachedData();
  writeFileSync(`${file}.cache`, data);
  return data.length;
}

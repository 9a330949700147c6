/**
 * The second step of `npm run build` (after tsc): bundles the service with esbuild into
 * dist/src/main.js, replacing tsc's output of src/main.ts, plus the chunks it loads on demand in
 * dist/src/chunks/, each with a source map. That file is the package's `bin`, the image's entry
 * point and what the tests and the bench spawn. Node 20 has no module compile cache, and loading
 * the ~100 compiled modules and their dependencies one file at a time cost more CPU at start than
 * everything the service then did until its first event was stored; one file a command is loaded
 * in a fraction of that.
 *
 * Each command stays in a chunk of its own (esbuild's code splitting of the dynamic imports in
 * src/commands/dispatch.ts), so that `--version` and `--help` load only the command line. The
 * service itself (src/commands/run.ts and all it imports) is one CommonJS file, chunks/run.cjs,
 * which src/code-cache.ts compiles from the V8 code cache that this script writes next to it
 * (chunks/run.cjs.cache), made by a Node.js started with the flags of the binary's shebang.
 *
 * Left outside the bundle, loaded from node_modules at run time:
 * - pino-pretty: `format: pretty` runs it in a worker thread, started by thread-stream from its
 *   own lib/worker.js; src/ops/log.ts gives pino both paths, resolved in node_modules.
 * - pg-native: pg's optional native binding, required only if `pg.native` is read (never here).
 *
 * Usage: node dist/scripts/bundle.js (from the repository's root, after tsc).
 */
import { build, type BuildOptions, type Plugin } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const OUT = 'dist/src';
/** The service's own bundle, CommonJS so that it can be compiled from a code cache. */
const RUN_BUNDLE = `${OUT}/chunks/run.cjs`;

/**
 * pg's lib/stream.js asks at load time whether it runs in a Cloudflare Worker; on Node 20, which
 * has no `navigator`, it finds out by constructing a fetch `Response`, which makes Node load and
 * compile its bundled undici: about 40 ms of CPU at every start, a quarter of the start-up's
 * budget. The bundle only runs on Node.js, so the answer is `false`, written into the source.
 * The build fails if pg's source no longer has the call, so a new pg version is looked at again.
 */
const pgNodeStreams: Plugin = {
  name: 'pg-node-streams',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]pg[\\/]lib[\\/]stream\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      const call = 'if (isCloudflareRuntime()) {';
      if (!source.includes(call)) throw new Error(`${path}: no \`${call}\` to replace; check pg's stream.js`);
      return { contents: source.replace(call, 'if (false) {'), loader: 'js' };
    });
  },
};

/** `import('./run.js')` in dispatch.ts loads chunks/run.cjs with its code cache. */
const runWithCodeCache: Plugin = {
  name: 'run-with-code-cache',
  setup(b) {
    b.onResolve({ filter: /^\.\/run\.js$/ }, ({ importer }) =>
      /[\\/]src[\\/]commands[\\/]dispatch\.ts$/.test(importer)
        ? { path: 'run', namespace: 'run-with-code-cache' }
        : undefined,
    );
    b.onLoad({ filter: /^run$/, namespace: 'run-with-code-cache' }, () => ({
      // This module is a chunk of its own in chunks/, next to run.cjs.
      contents: [
        "import { fileURLToPath } from 'node:url';",
        "import { loadWithCodeCache } from './code-cache.ts';",
        "const run = loadWithCodeCache(fileURLToPath(new URL('./run.cjs', import.meta.url)));",
        'export const runService = run.runService;',
      ].join('\n'),
      resolveDir: resolve('src'),
      loader: 'ts',
    }));
  },
};

const common: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20.19',
  sourcemap: true,
  // Function and class names as they are in the sources, for stack traces and logged errors.
  keepNames: true,
  external: ['pino-pretty', 'pg-native'],
  logLevel: 'warning',
};

rmSync(`${OUT}/chunks`, { recursive: true, force: true });
const commands = await build({
  ...common,
  entryPoints: { main: 'src/main.ts' },
  splitting: true,
  format: 'esm',
  outdir: OUT,
  chunkNames: 'chunks/[name]-[hash]',
  // The shebang of src/main.ts (node with --max-semi-space-size=16) stays the first line.
  // The CommonJS dependencies (pg, prom-client, …) call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __pgwCreateRequire } from 'node:module'; const require = __pgwCreateRequire(import.meta.url);",
  },
  plugins: [pgNodeStreams, runWithCodeCache],
  metafile: true,
});
const service = await build({
  ...common,
  entryPoints: ['src/commands/run.ts'],
  format: 'cjs',
  outfile: RUN_BUNDLE,
  // import.meta.url (src/ops/log.ts) is the bundle's own URL, as in the ESM chunks.
  define: { 'import.meta.url': '__pgwImportMetaUrl' },
  // Strict mode first, as the ES modules it is made of are (a directive must open the body).
  banner: {
    js: "'use strict'; var __pgwImportMetaUrl = require('node:url').pathToFileURL(__filename).href;",
  },
  plugins: [pgNodeStreams],
  metafile: true,
});

// The loader must be the chunk next to run.cjs that dispatch.ts imports (else the service would
// have been bundled into the ES module chunks, or the loader would look for run.cjs elsewhere).
const loader = Object.entries(commands.metafile.outputs).find(
  ([, o]) => o.inputs['run-with-code-cache:run'] !== undefined,
)?.[0];
if (loader === undefined || !loader.startsWith(`${OUT}/chunks/`))
  throw new Error(`the loader of ${RUN_BUNDLE} is ${loader ?? 'not in the bundle'}`);

// The code cache, made by node with the flags of the shebang (V8 refuses one made under others).
const shebang = readFileSync('src/main.ts', 'utf8').split('\n', 1)[0] ?? '';
const flags =
  /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)$/.exec(shebang)?.[1]?.trim().split(' ') ?? [];
if (!shebang.startsWith('#!') || flags.length === 0)
  throw new Error(`src/main.ts: cannot read node's flags from ${shebang}`);
const cacheBytes = execFileSync(
  process.execPath,
  [
    ...flags,
    '--input-type=module',
    '-e',
    `const { writeCodeCache } = await import(${JSON.stringify(new URL('../src/code-cache.js', import.meta.url).href)});
     console.log(writeCodeCache(${JSON.stringify(resolve(RUN_BUNDLE))}));`,
  ],
  { encoding: 'utf8' },
).trim();

const outputs = [commands, service].flatMap((r) =>
  Object.entries(r.metafile.outputs).filter(([file]) => /\.c?js$/.test(file)),
);
const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
console.log(
  `bundle: ${OUT}/main.js and ${outputs.length - 1} chunks, ${(bytes / 1e6).toFixed(2)} MB; ` +
    `code cache of ${RUN_BUNDLE} ${(Number(cacheBytes) / 1e6).toFixed(2)} MB (node ${flags.join(' ')})`,
);

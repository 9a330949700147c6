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
 * src/commands/dispatch.ts), so that `--version` and `--help` load only the command line.
 *
 * Left outside the bundle, loaded from node_modules at run time:
 * - pino-pretty: `format: pretty` runs it in a worker thread, started by thread-stream from its
 *   own lib/worker.js; src/ops/log.ts gives pino both paths, resolved in node_modules.
 * - pg-native: pg's optional native binding, required only if `pg.native` is read (never here).
 *
 * Usage: node dist/scripts/bundle.js (from the repository's root, after tsc).
 */
import { build, type Plugin } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';

const OUT = 'dist/src';

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

rmSync(`${OUT}/chunks`, { recursive: true, force: true });
const result = await build({
  entryPoints: { main: 'src/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  outdir: OUT,
  chunkNames: 'chunks/[name]-[hash]',
  // The shebang of src/main.ts (node with --max-semi-space-size=16) stays the first line.
  sourcemap: true,
  // Function and class names as they are in the sources, for stack traces and logged errors.
  keepNames: true,
  external: ['pino-pretty', 'pg-native'],
  // The CommonJS dependencies (pg, prom-client, …) call require() for Node's built-in modules.
  banner: {
    js: "import { createRequire as __pgwCreateRequire } from 'node:module'; const require = __pgwCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  metafile: true,
  plugins: [pgNodeStreams],
});
const outputs = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const bytes = outputs.reduce((sum, [, o]) => sum + o.bytes, 0);
if (process.argv[2]) (await import('node:fs')).writeFileSync(process.argv[2], JSON.stringify(result.metafile));
console.log(`bundle: ${OUT}/main.js and ${outputs.length - 1} chunks, ${(bytes / 1e6).toFixed(2)} MB`);

/**
 * Logging: pino, JSON lines by default, human-readable with `format: pretty`.
 * Messages are lower-case prose; slot, LSN and subject go in fields. Nothing per event above debug.
 */
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';

export type { Logger };

/** Log settings from the configuration. */
export interface LogSettings {
  level: string;
  format: 'json' | 'pretty';
}

/** Creates the process logger (to standard output). */
export function createLogger(s: LogSettings): Logger {
  const options = { level: s.level, base: { name: 'pgwalstreams' } };
  if (s.format === 'pretty') {
    bundlerPaths();
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 1 } } });
  }
  return pino(options);
}

/**
 * `format: pretty` runs pino-pretty in a worker thread that thread-stream starts from its own
 * lib/worker.js, found from its `__dirname`. The service ships bundled (scripts/bundle.ts), with
 * pino and thread-stream inside the bundle, where they have no `__dirname` of their own: the
 * paths are given in pino's `__bundlerPathsOverrides`, resolved from the installed packages (the
 * same files pino would find unbundled).
 */
function bundlerPaths(): void {
  const here = createRequire(import.meta.url);
  const fromPino = createRequire(here.resolve('pino'));
  (globalThis as { __bundlerPathsOverrides?: Record<string, string> }).__bundlerPathsOverrides = {
    'thread-stream-worker': fromPino.resolve('thread-stream/lib/worker.js'),
    'pino-pretty': here.resolve('pino-pretty'),
  };
}

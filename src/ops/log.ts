/**
 * Logging: pino, JSON lines by default, human-readable with `format: pretty`.
 * Messages are lower-case prose; slot, LSN and subject go in fields. Nothing per event above debug.
 */
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
    return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: 1 } } });
  }
  return pino(options);
}

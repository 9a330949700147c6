/**
 * Runs the command the command line asked for. Each command's module is loaded only when it
 * runs, so that `--version` does not load the service.
 */
import { existsSync, readFileSync } from 'node:fs';
import { USAGE, type CliIo, type Command } from '../cli.js';

/**
 * The version in the nearest package.json above this module: dist/src/commands/dispatch.js as tsc
 * compiles it, dist/src/main.js in the bundle that ships.
 */
function version(): string {
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const file = new URL('package.json', dir);
    if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    if (dir.pathname === '/') throw new Error(`no package.json above ${import.meta.url}`);
  }
}

/** Runs `command` and returns the exit status: 0, 1 for a fatal error, 2 for a usage or configuration error. */
export async function runCommand(command: Command, io: CliIo): Promise<number> {
  switch (command.kind) {
    case 'help':
      io.stdout.write(`${USAGE}\n`);
      return 0;
    case 'version':
      io.stdout.write(`${version()}\n`);
      return 0;
    case 'usage-error':
      io.stderr.write(`pgwalstreams: ${command.message}\n${USAGE}\n`);
      return 2;
    case 'run':
      return (await import('./run.js')).runService(command.config, io);
    case 'config-check':
      return (await import('./config-check.js')).configCheckCommand(command.config, io);
    case 'config-schema': {
      const { configJsonSchema } = await import('../config/json-schema.js');
      io.stdout.write(`${JSON.stringify(configJsonSchema(), null, 2)}\n`);
      return 0;
    }
    case 'status':
      return (await import('./slot.js')).statusCommand(command.config, io);
    case 'drop-slot':
      return (await import('./slot.js')).dropSlotCommand(command.config, command.yes, io);
    case 'backfill-start':
      return (await import('./backfill.js')).backfillStartCommand(
        command.config,
        command.tables,
        command.where,
        io,
      );
    case 'backfill-list':
      return (await import('./backfill.js')).backfillListCommand(command.config, io);
    case 'backfill-cancel':
      return (await import('./backfill.js')).backfillCancelCommand(command.config, command.id, io);
  }
}

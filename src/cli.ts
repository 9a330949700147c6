/**
 * The command line: argv → one {@link Command}, and the usage text. The commands themselves live
 * in `commands/`; `commands/dispatch.ts` runs the one parsed here.
 */
import { parseArgs } from 'node:util';

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `usage: pgwalstreams [run] [--config <file>]
       pgwalstreams config check [<file>]
       pgwalstreams config schema
       pgwalstreams status [--config <file>]
       pgwalstreams drop-slot --yes [--config <file>]
       pgwalstreams backfill <schema.table>... [--where <condition>] [--config <file>]
       pgwalstreams backfill list | cancel <id> [--config <file>]

Streams committed changes from PostgreSQL (logical replication, pgoutput) to NATS JetStream.

commands:
  run                   run the service (the default when no command is given)
  config check [<file>] load and validate a configuration file as the service does; print the
                        effective configuration (secrets redacted) and exit 0, or every problem
                        with its key path and exit 2
  config schema         print the JSON Schema of the configuration file, for editors
  status                the slot and publication as the server sees them: who holds the slot,
                        confirmed position, lag, WAL retained, backfills not ended; exit 1 when
                        the slot is absent or lost
  drop-slot --yes       drop the replication slot when decommissioning (refused while in use;
                        without --yes it only says what it would drop)
  backfill <table>...   queue a backfill of these tables (schema.table, or table in public) for
                        the service that holds the slot; --where limits it to rows meeting a
                        condition; refused for tables not published or without a primary key
  backfill list         the backfills of the slot and their progress
  backfill cancel <id>  ask the service to stop a backfill after the chunk in progress

options:
  -c, --config <file>   configuration file (default: config.yml, or $PGWALSTREAMS_CONFIG)
  -y, --yes             confirm drop-slot
  -w, --where <cond>    an SQL condition for backfill
  -v, --version         print the version
  -h, --help            print this help`;

/** What the command line asks for. */
export type Command =
  | { readonly kind: 'run'; readonly config: string }
  | { readonly kind: 'config-check'; readonly config: string }
  | { readonly kind: 'config-schema' }
  | { readonly kind: 'status'; readonly config: string }
  | { readonly kind: 'drop-slot'; readonly config: string; readonly yes: boolean }
  | {
      readonly kind: 'backfill-start';
      readonly config: string;
      readonly tables: readonly { schema: string; table: string }[];
      readonly where: string | null;
    }
  | { readonly kind: 'backfill-list'; readonly config: string }
  | { readonly kind: 'backfill-cancel'; readonly config: string; readonly id: string }
  | { readonly kind: 'help' }
  | { readonly kind: 'version' }
  | { readonly kind: 'usage-error'; readonly message: string };

/** Where the commands write; `process` in production, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
}

/**
 * Parses the arguments (without `node` and the script). The configuration file defaults to
 * `$PGWALSTREAMS_CONFIG`, then `config.yml`, for `run` and for `config check`.
 */
export function parseCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Command {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        version: { type: 'boolean', short: 'v' },
        help: { type: 'boolean', short: 'h' },
        yes: { type: 'boolean', short: 'y' },
        where: { type: 'string', short: 'w' },
      },
    });
  } catch (err) {
    return { kind: 'usage-error', message: err instanceof Error ? err.message : String(err) };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const defaultConfig = values.config ?? env['PGWALSTREAMS_CONFIG'] ?? 'config.yml';
  const [first, second, ...rest] = positionals;
  const extra = (words: readonly string[]): Command => ({
    kind: 'usage-error',
    message: `unexpected argument ${JSON.stringify(words[0])}`,
  });

  if (first === undefined) return { kind: 'run', config: defaultConfig };
  if (first === 'run') {
    return second === undefined ? { kind: 'run', config: defaultConfig } : extra([second]);
  }
  if (first === 'config') {
    if (second === 'check') {
      const [file, ...more] = rest;
      if (more.length > 0) return extra(more);
      if (file !== undefined && values.config !== undefined) {
        return { kind: 'usage-error', message: 'give the file either as an argument or with --config' };
      }
      return { kind: 'config-check', config: file ?? defaultConfig };
    }
    if (second === 'schema') return rest.length > 0 ? extra(rest) : { kind: 'config-schema' };
    return {
      kind: 'usage-error',
      message:
        second === undefined
          ? 'config needs a subcommand: check or schema'
          : `unknown config subcommand ${JSON.stringify(second)}: use check or schema`,
    };
  }
  if (first === 'status')
    return second === undefined ? { kind: 'status', config: defaultConfig } : extra([second]);
  if (first === 'drop-slot') {
    return second === undefined
      ? { kind: 'drop-slot', config: defaultConfig, yes: values.yes === true }
      : extra([second]);
  }
  if (first === 'backfill') return backfillCommand([second, ...rest], values.where, defaultConfig, extra);
  return {
    kind: 'usage-error',
    message: `unknown command ${JSON.stringify(first)}: use run, config, status, drop-slot or backfill`,
  };
}

/** `backfill <table>… [--where]`, `backfill list`, `backfill cancel <id>`. */
function backfillCommand(
  words: readonly (string | undefined)[],
  where: string | undefined,
  config: string,
  extra: (words: readonly string[]) => Command,
): Command {
  const args = words.filter((w): w is string => w !== undefined);
  const [first, ...rest] = args;
  if (first === undefined) {
    return {
      kind: 'usage-error',
      message: 'backfill needs the tables to read (schema.table), list or cancel <id>',
    };
  }
  if (first === 'list') return rest.length > 0 ? extra(rest) : { kind: 'backfill-list', config };
  if (first === 'cancel') {
    const [id, ...more] = rest;
    if (id === undefined)
      return { kind: 'usage-error', message: 'backfill cancel needs the id of a backfill' };
    return more.length > 0 ? extra(more) : { kind: 'backfill-cancel', config, id };
  }
  if (where !== undefined && where.trim() === '') {
    return { kind: 'usage-error', message: '--where is empty: give an SQL condition or leave it out' };
  }
  const tables = args.map((name) => {
    const dot = name.indexOf('.');
    return dot < 0
      ? { schema: 'public', table: name }
      : { schema: name.slice(0, dot), table: name.slice(dot + 1) };
  });
  return { kind: 'backfill-start', config, tables, where: where ?? null };
}

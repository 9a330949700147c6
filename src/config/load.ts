/**
 * Loading the configuration: reading the YAML text, merging in the other sources of values
 * (environment overrides, libpq fallbacks, the files keys name; see {@link parseConfig} for which
 * wins) and validating the result against the schema.
 *
 * Every problem is collected and thrown at once as a `ConfigError` whose problems carry the
 * dotted key path. Secrets (the database and NATS passwords, the NATS token, the content of the
 * files holding them, an nkey seed, a password or token in a NATS URL) never appear in an error
 * message.
 */
import { readFile as readFileAsync } from 'node:fs/promises';
import { LineCounter, parseDocument, visit } from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { applyLibpqFallbacks, applyOverrides, type EnvSource } from './env.js';
import { checkKeyFile, FILE_KEYS, isProblem, readTextFile, type ReadFile } from './files.js';
import { describeValue, errorMap, toProblems, withSource } from './problems.js';
import { configSchema, type Config } from './schema.js';
import { collectSecrets, fail } from './secrets.js';
import { getIn, isMapping, setIn, type Mapping } from './tree.js';

/** A key written with no value (`password:`) counts as absent, in mappings at any depth. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isMapping(value)) return value;
  const out: Mapping = {};
  for (const [key, child] of Object.entries(value)) {
    if (child !== null) out[key] = dropNulls(child);
  }
  return out;
}

/** Parses the YAML text into a mapping; syntax errors are thrown with file, line and column. */
function readYaml(text: string, fileName: string, env: NodeJS.ProcessEnv): Mapping {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Whatever password the broken text still yields is kept out of the messages.
    let partial: unknown;
    try {
      partial = doc.toJS();
    } catch {
      partial = undefined;
    }
    const problems = doc.errors.map((err) => {
      const { line, col } = lineCounter.linePos(err.pos[0]);
      return { path: `${fileName}:${line}:${col}`, message: err.message.split('\n')[0] ?? err.code };
    });
    fail(`cannot parse ${fileName} as YAML`, problems, collectSecrets(partial, env));
  }

  let raw: unknown;
  try {
    raw = dropNulls(doc.toJS({ maxAliasCount: 100 }) ?? {});
  } catch (err) {
    // toJS fails on an alias without its anchor, or on too many aliases: point at the alias.
    let where = fileName;
    visit(doc, {
      Alias(_, node) {
        if (!node.range || node.resolve(doc) !== undefined) return undefined;
        const { line, col } = lineCounter.linePos(node.range[0]);
        where = `${fileName}:${line}:${col}`;
        return visit.BREAK;
      },
    });
    const reason = err instanceof Error ? (err.message.split('\n')[0] ?? '') : 'unreadable';
    fail(
      `cannot parse ${fileName} as YAML`,
      [{ path: where, message: reason }],
      collectSecrets(undefined, env),
    );
  }
  if (!isMapping(raw)) {
    const message = `expected a mapping with the sections listener, database, nats and logger, got ${describeValue(raw)}`;
    fail(`invalid configuration in ${fileName}`, [{ path: '', message }], collectSecrets(undefined, env));
  }
  return raw;
}

/**
 * Reads and checks every file a key names (see `FILE_KEYS`); returns the contents of the secret
 * files by the key they fill (`database.password` for `database.passwordFile`). A secret file is
 * not read when its key is also set, an error the schema reports. The secret part of every file
 * goes into `secrets`.
 */
function readKeyFiles(
  raw: Mapping,
  readFile: ReadFile,
  problems: ConfigProblem[],
  secrets: string[],
): Map<readonly string[], string> {
  const filled = new Map<readonly string[], string>();
  for (const key of FILE_KEYS) {
    const path = getIn(raw, key.segments);
    if (typeof path !== 'string' || path === '') continue;
    if (key.into && getIn(raw, key.into) !== undefined) continue;
    const result = checkKeyFile(key.path, path, key.kind, readFile);
    if (isProblem(result)) {
      problems.push(result);
      continue;
    }
    if (result.secret !== undefined) secrets.push(result.secret);
    if (key.into) filled.set(key.into, result.text);
  }
  return filled;
}

/**
 * Parses and validates configuration text; the pure core of {@link loadConfig}.
 *
 * Where each key's value comes from, first match wins:
 *
 * 1. An environment variable `PGWALSTREAMS_` + the key's path, segments upper-cased and joined
 *    by `_`: `listener.slotName` → `PGWALSTREAMS_LISTENER_SLOTNAME`, `database.password` →
 *    `PGWALSTREAMS_DATABASE_PASSWORD`, `nats.stream.name` → `PGWALSTREAMS_NATS_STREAM_NAME`.
 *    Every key has one (see `ENV_OVERRIDES`). Numbers are parsed from the text; durations take
 *    the same text as the file (`10s`). `PGWALSTREAMS_DATABASE_FILTER_TABLES` takes the filter
 *    map as JSON or YAML flow text (`{users: [insert, update]}`); `PGWALSTREAMS_NATS_STREAM_SUBJECTS`
 *    takes a list the same way, or `a.>,b.>`. A filter set by variable also wins on every reload. Setting a key of `nats.stream` creates that
 *    section. An empty variable counts as unset. A `PGWALSTREAMS_LISTENER_`, `_DATABASE_`,
 *    `_NATS_` or `_LOGGER_` variable that names no key is an error, so typos are caught.
 * 2. The configuration file.
 * 3. For `database.host`, `port`, `name`, `user`, `password`, `sslMode`, `sslRootCert`,
 *    `sslCert` and `sslKey` only, the libpq variables `PGHOST`, `PGPORT`, `PGDATABASE`,
 *    `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT` and `PGSSLKEY`
 *    (`PGPASSWORD` only when neither `password` nor `passwordFile` is set).
 * 4. The schema's default.
 *
 * A key written with no value (`password:`) counts as absent. Every file a key names is read
 * with `readFile` and checked (a certificate must hold a PEM certificate, and so on); a file
 * that cannot be read is a problem under its key. The content of `database.passwordFile`,
 * `nats.passwordFile` and `nats.tokenFile`, less one trailing newline, becomes
 * `database.password`, `nats.password` and `nats.token` in the result.
 *
 * @param fileName names the text in messages, such as the path it was read from.
 * @throws ConfigError listing every problem, each with its key path and how to fix it.
 */
export function parseConfig(
  text: string,
  env: NodeJS.ProcessEnv = process.env,
  readFile: ReadFile = readTextFile,
  fileName = 'configuration',
): Config {
  const raw = readYaml(text, fileName, env);
  const problems: ConfigProblem[] = [];
  const sources: EnvSource[] = [];
  applyOverrides(raw, env, problems, sources);
  applyLibpqFallbacks(raw, env, problems, sources);
  const secrets = collectSecrets(raw, env);
  const filled = readKeyFiles(raw, readFile, problems, secrets);

  const result = configSchema.safeParse(raw, { error: errorMap });
  if (!result.success || problems.length > 0) {
    const all = result.success ? problems : [...toProblems(result.error.issues), ...problems];
    fail(
      `invalid configuration in ${fileName}`,
      all.map((p) => withSource(p, sources)),
      secrets,
    );
  }

  const config = result.data;
  for (const [segments, text] of filled) setIn(config as unknown as Mapping, segments, text);
  return config;
}

/**
 * Reads, parses and validates the configuration file at `path`; see {@link parseConfig} for
 * where each value comes from. Relative paths of the files keys name (`database.passwordFile`,
 * `database.sslRootCert`, …) are resolved against the working directory.
 *
 * @throws ConfigError when the file cannot be read or the configuration is invalid.
 */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  return (await loadConfigText(path, env)).config;
}

/** Like `loadConfig`, also returning the file's text (whose hash tells versions apart). */
export async function loadConfigText(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ config: Config; text: string }> {
  let text: string;
  try {
    text = await readFileAsync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`cannot read configuration file ${path} (${code})`, [], { cause: err });
  }
  return { config: parseConfig(text, env, readTextFile, path), text };
}

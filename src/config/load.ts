/**
 * Loading the configuration: YAML file, environment overrides, libpq fallbacks, validation.
 *
 * Every problem is collected and thrown at once as a `ConfigError` whose problems carry the
 * dotted key path. Secrets (the database and NATS passwords, the NATS token, the content of the
 * files holding them, an nkey seed, a password or token in a NATS URL) never appear in an error
 * message.
 */
import { readFileSync } from 'node:fs';
import { readFile as readFileAsync } from 'node:fs/promises';
import { isDeepStrictEqual } from 'node:util';
import { LineCounter, parse as parseYaml, parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { checkKeyFile, FILE_KEYS, isProblem } from './files.js';
import { configSchema, type Config } from './schema.js';

/** The prefix of the environment variables that override configuration keys. */
export const ENV_PREFIX = 'PGWALSTREAMS_';

/** How an environment variable's text becomes a value of its key. */
type EnvKind = 'string' | 'number' | 'boolean' | 'structured';

/** A configuration key that an environment variable can override. */
export interface EnvOverride {
  /** Dotted key path, such as `listener.slotName`. */
  readonly path: string;
  /** The variable, such as `PGWALSTREAMS_LISTENER_SLOTNAME`. */
  readonly variable: string;
  readonly kind: EnvKind;
  readonly segments: readonly string[];
}

/** Strips defaults, optionality and transforms to reach the schema that checks the input. */
function inputSchema(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    if (
      current instanceof z.ZodDefault ||
      current instanceof z.ZodPrefault ||
      current instanceof z.ZodOptional ||
      current instanceof z.ZodNullable
    ) {
      current = current.def.innerType;
    } else if (current instanceof z.ZodPipe) {
      current = current.def.in;
    } else {
      return current;
    }
  }
}

function collectOverrides(schema: z.core.$ZodType, segments: readonly string[]): EnvOverride[] {
  const inner = inputSchema(schema);
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.core.$ZodType>).flatMap(([key, child]) =>
      collectOverrides(child, [...segments, key]),
    );
  }
  const kind: EnvKind =
    inner instanceof z.ZodNumber
      ? 'number'
      : inner instanceof z.ZodBoolean
        ? 'boolean'
        : inner instanceof z.ZodArray || inner instanceof z.ZodRecord
          ? 'structured'
          : 'string';
  return [
    {
      path: segments.join('.'),
      variable: ENV_PREFIX + segments.map((s) => s.toUpperCase()).join('_'),
      kind,
      segments,
    },
  ];
}

/** Every key an environment variable can override, derived from the schema, in schema order. */
export const ENV_OVERRIDES: readonly EnvOverride[] = collectOverrides(configSchema, []);

/** The libpq variables used when neither the file nor a PGWALSTREAMS_ variable sets the key. */
const LIBPQ_FALLBACKS = [
  { variable: 'PGHOST', path: 'database.host' },
  { variable: 'PGPORT', path: 'database.port' },
  { variable: 'PGDATABASE', path: 'database.name' },
  { variable: 'PGUSER', path: 'database.user' },
  { variable: 'PGPASSWORD', path: 'database.password' },
  { variable: 'PGSSLMODE', path: 'database.sslMode' },
  { variable: 'PGSSLROOTCERT', path: 'database.sslRootCert' },
  { variable: 'PGSSLCERT', path: 'database.sslCert' },
  { variable: 'PGSSLKEY', path: 'database.sslKey' },
].map(({ variable, path }) => {
  const key = ENV_OVERRIDES.find((o) => o.path === path);
  if (!key) throw new Error(`no configuration key ${path}`);
  return { ...key, variable };
});

const REDACTED = '[redacted]';

type Mapping = Record<string, unknown>;

function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `a.b[1]`, with keys that are not plain names quoted: `tables["public.users"]`. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)) {
      out += out === '' ? segment : `.${segment}`;
    } else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

function getIn(root: unknown, segments: readonly string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (!isMapping(current)) return undefined;
    current = current[segment];
  }
  return current;
}

/** Sets a key, creating missing sections; leaves a non-mapping section alone for the schema to report. */
function setIn(root: Mapping, segments: readonly string[], value: unknown): void {
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment];
    if (next === undefined) current = current[segment] = {};
    else if (isMapping(next)) current = next;
    else return;
  }
  current[segments[segments.length - 1] as string] = value;
}

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

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The known name closest to `name` (ignoring case, `_` and `-`), if it is close enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = levenshtein(norm(name), norm(candidate));
    if (!best || distance < best.distance) best = { name: candidate, distance };
  }
  const limit = name.length <= 4 ? 1 : 2;
  return best && best.distance <= limit ? best.name : undefined;
}

/** The keys of the section at `path` in the schema. */
function knownKeysAt(path: readonly PropertyKey[]): string[] {
  let current: z.core.$ZodType | undefined = configSchema;
  for (const segment of path) {
    const inner: z.core.$ZodType = inputSchema(current);
    current =
      inner instanceof z.ZodObject
        ? (inner.shape as Record<string, z.core.$ZodType>)[String(segment)]
        : undefined;
    if (!current) return [];
  }
  const inner = inputSchema(current);
  return inner instanceof z.ZodObject ? Object.keys(inner.shape) : [];
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  const suggestion = closest(key, known);
  if (suggestion) return `unknown key ${JSON.stringify(key)}: did you mean ${suggestion}?`;
  return `unknown key ${JSON.stringify(key)}: remove it or use one of ${known.join(', ')}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'boolean') return 'true/false';
  if (typeof value === 'number' || typeof value === 'bigint') return 'a number';
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
  object: 'a mapping of keys',
  array: 'a list such as [a, b]',
  record: 'a mapping of keys',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
};

function requiredMessage(segments: readonly string[]): string {
  const path = segments.join('.');
  const ways = ['in the file'];
  const override = ENV_OVERRIDES.find((o) => o.path === path);
  if (override) ways.push(override.variable);
  const fallback = LIBPQ_FALLBACKS.find((f) => f.path === path);
  if (fallback) ways.push(fallback.variable);
  const last = ways.pop();
  return `is required: set it ${ways.length > 0 ? `${ways.join(', ')} or ${last}` : last}`;
}

/** Words the generic zod issues as fixes; schema-level messages take precedence over this map. */
const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return requiredMessage((issue.path ?? []).map(String));
      const hint =
        issue.expected === 'string' && (typeof issue.input === 'number' || typeof issue.input === 'boolean')
          ? ': put the value in quotes'
          : '';
      return `expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}${hint}`;
    }
    case 'invalid_value':
      return `${JSON.stringify(issue.input)} is not one of ${issue.values.map(String).join(', ')}: pick one of them`;
    default:
      return undefined;
  }
};

function toProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  return issues.flatMap((issue): ConfigProblem[] => {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(issue.path);
      return issue.keys.map((key) => ({
        path: formatPath([...issue.path, key]),
        message: unknownKeyMessage(key, known),
      }));
    }
    if (issue.code === 'invalid_key') {
      return [{ path: formatPath(issue.path), message: issue.issues.map((i) => i.message).join('; ') }];
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

/** Turns an environment variable's text into a value of the key's type; errors are left to the schema. */
function coerce(text: string, kind: EnvKind, variable: string, problems: ConfigProblem[]): unknown {
  switch (kind) {
    case 'number':
      return /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text;
    case 'boolean':
      return text === 'true' ? true : text === 'false' ? false : text;
    case 'structured': {
      try {
        const value: unknown = parseYaml(text, { prettyErrors: false });
        // A list may also be written as `a,b`, which YAML reads as one string.
        return typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value;
      } catch (err) {
        const reason = err instanceof Error ? err.message.split('\n')[0] : 'unreadable';
        problems.push({ path: variable, message: `is not valid JSON or YAML flow text (${reason})` });
        return undefined;
      }
    }
    default:
      return text;
  }
}

/** The keys that hold a secret, as written in the file or set by a variable. */
const SECRET_KEYS = [
  ['database', 'password'],
  ['nats', 'password'],
  ['nats', 'token'],
] as const;

/** The secrets this configuration involves, to be kept out of every message. */
function collectSecrets(raw: unknown, env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  for (const segments of SECRET_KEYS) {
    const value = getIn(raw, segments);
    if (typeof value === 'string' || typeof value === 'number') secrets.push(String(value));
  }
  const variables = [
    `${ENV_PREFIX}DATABASE_PASSWORD`,
    'PGPASSWORD',
    `${ENV_PREFIX}NATS_PASSWORD`,
    `${ENV_PREFIX}NATS_TOKEN`,
  ];
  for (const name of variables) {
    const value = env[name];
    if (value) secrets.push(value);
  }
  const address = getIn(raw, ['nats', 'address']);
  if (typeof address === 'string') {
    for (const url of address.split(',')) {
      const secret = urlSecret(url.trim());
      if (secret) secrets.push(secret, decodeURIComponent(secret));
    }
  }
  return secrets;
}

/** The password of a URL, or its user name when there is no password (`nats://token@host`). */
function urlSecret(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.password || parsed.username || undefined;
  } catch {
    return undefined;
  }
}

/** Replaces every secret, as written and as JSON would escape it, with `[redacted]`. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret === '') continue;
    out = out.replaceAll(secret, REDACTED).replaceAll(JSON.stringify(secret).slice(1, -1), REDACTED);
  }
  return out;
}

function fail(message: string, problems: readonly ConfigProblem[], secrets: readonly string[]): never {
  throw new ConfigError(
    scrub(message, secrets),
    problems.map((p) => ({ path: scrub(p.path, secrets), message: scrub(p.message, secrets) })),
  );
}

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/** An environment variable that set a key, named in the messages about that key. */
interface Source {
  path: string;
  variable: string;
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

/** Applies the PGWALSTREAMS_ variables; reports those of a section that name no key. */
function applyOverrides(
  raw: Mapping,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  sources: Source[],
): void {
  for (const override of ENV_OVERRIDES) {
    const value = env[override.variable];
    if (value === undefined || value === '') continue;
    const coerced = coerce(value, override.kind, override.variable, problems);
    if (coerced === undefined) continue;
    setIn(raw, override.segments, coerced);
    sources.push({ path: override.path, variable: override.variable });
  }
  const sections = Object.keys(configSchema.shape).map((s) => `${ENV_PREFIX}${s.toUpperCase()}_`);
  const variables = ENV_OVERRIDES.map((o) => o.variable);
  for (const name of Object.keys(env).sort()) {
    if (!sections.some((s) => name.startsWith(s)) || variables.includes(name)) continue;
    const suggestion = closest(name, variables);
    problems.push({
      path: name,
      message: suggestion
        ? `unknown variable: did you mean ${suggestion}?`
        : 'unknown variable: no configuration key has this name',
    });
  }
}

/** Fills the database keys still unset from the libpq variables. */
function applyLibpqFallbacks(
  raw: Mapping,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  sources: Source[],
): void {
  const passwordGiven =
    getIn(raw, ['database', 'password']) !== undefined ||
    getIn(raw, ['database', 'passwordFile']) !== undefined;
  for (const fallback of LIBPQ_FALLBACKS) {
    const value = env[fallback.variable];
    if (value === undefined || value === '' || getIn(raw, fallback.segments) !== undefined) continue;
    if (fallback.variable === 'PGPASSWORD' && passwordGiven) continue;
    setIn(raw, fallback.segments, coerce(value, fallback.kind, fallback.variable, problems));
    sources.push({ path: fallback.path, variable: fallback.variable });
  }
}

/**
 * Reads and checks every file a key names (see `FILE_KEYS`); returns the contents of the secret
 * files by the key they fill (`database.password` for `database.passwordFile`). A secret file is
 * not read when its key is also set, an error the schema reports. The secret part of every file
 * goes into `secrets`.
 */
function readKeyFiles(
  raw: Mapping,
  readFile: (path: string) => string,
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

/** Names the environment variable a problem's key came from, if any. */
function withSource(problem: ConfigProblem, sources: readonly Source[]): ConfigProblem {
  const source = sources.find(
    (s) =>
      problem.path === s.path ||
      problem.path.startsWith(`${s.path}.`) ||
      problem.path.startsWith(`${s.path}[`),
  );
  return source ? { ...problem, message: `${problem.message} (from ${source.variable})` } : problem;
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
  readFile: (path: string) => string = defaultReadFile,
  fileName = 'configuration',
): Config {
  const raw = readYaml(text, fileName, env);
  const problems: ConfigProblem[] = [];
  const sources: Source[] = [];
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
  return { config: parseConfig(text, env, defaultReadFile, path), text };
}

/** A URL with its password, or its token (a user name without password), replaced by `redacted`. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    else if (parsed.username) parsed.username = 'redacted';
    else return url;
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A copy of the configuration that is safe to log or print: the database and NATS passwords and
 * the NATS token replaced by `[redacted]`, and so are secrets in NATS URLs. File paths stay.
 */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.database.password !== undefined) copy.database.password = REDACTED;
  if (copy.nats.password !== undefined) copy.nats.password = REDACTED;
  if (copy.nats.token !== undefined) copy.nats.token = REDACTED;
  copy.nats.address = copy.nats.address.map(redactUrl);
  return copy;
}

/** The settings that a running pipeline can apply without a restart: filter and routing, log level. */
export interface ReloadableConfig {
  filter: Config['database']['filter'];
  topicPrefix: Config['nats']['topicPrefix'];
  transactionEvents: Config['nats']['transactionEvents'];
  logLevel: Config['logger']['level'];
}

/** The settings that need a restart to change. */
export type StaticConfig = Omit<Config, 'database' | 'nats' | 'logger'> & {
  database: Omit<Config['database'], 'filter'>;
  nats: Omit<Config['nats'], 'topicPrefix' | 'transactionEvents'>;
  logger: Omit<Config['logger'], 'level'>;
};

/**
 * Splits a configuration into what a reload may change (`database.filter`, `nats.topicPrefix`,
 * `nats.transactionEvents`, `logger.level`) and the rest (connections, slot, publication, stream).
 */
export function splitReloadable(config: Config): { reloadable: ReloadableConfig; static: StaticConfig } {
  const { filter, ...database } = config.database;
  const { topicPrefix, transactionEvents, ...nats } = config.nats;
  const { level, ...logger } = config.logger;
  return {
    reloadable: { filter, topicPrefix, transactionEvents, logLevel: level },
    static: { ...config, database, nats, logger },
  };
}

function diffPaths(a: unknown, b: unknown, path: readonly string[], out: string[]): void {
  if (isMapping(a) && isMapping(b)) {
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      diffPaths(a[key], b[key], [...path, key], out);
    }
  } else if (!isDeepStrictEqual(a, b)) {
    out.push(formatPath(path));
  }
}

/**
 * The dotted paths of the non-reloadable keys that differ between two configurations, such as
 * `nats.topicPrefix`: a reload cannot apply them, so the caller logs that they need a restart.
 * Lists and absent sections count as one key (`nats.address`, `nats.stream`).
 */
export function describeStaticChanges(oldConfig: Config, newConfig: Config): string[] {
  const out: string[] = [];
  diffPaths(splitReloadable(oldConfig).static, splitReloadable(newConfig).static, [], out);
  return out;
}

/**
 * The environment as a source of values: a PGWALSTREAMS_ variable for every key, derived from
 * the schema, and the libpq variables (`PGHOST`, `PGPASSWORD`, …) as fallbacks for the database
 * keys. Applying them writes into the raw configuration before it is validated, and records which
 * variable set which key so that messages can name it.
 */
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { configSchema } from './schema.js';
import { closest } from './suggest.js';
import { getIn, inputSchema, setIn, type Mapping } from './tree.js';

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
export const LIBPQ_FALLBACKS: readonly EnvOverride[] = [
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

/** An environment variable that set a key, named in the messages about that key. */
export interface EnvSource {
  path: string;
  variable: string;
}

/** Turns an environment variable's text into a value of the key's type; errors are left to the schema. */
function coerce(text: string, kind: EnvKind, variable: string, problems: ConfigProblem[]): unknown {
  switch (kind) {
    case 'number':
      // NaN and Infinity too, so that the schema words them as YAML's .nan and .inf.
      return /^\s*(-?(\d+(\.\d+)?|Infinity)|NaN)\s*$/.test(text) ? Number(text) : text;
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

/** Applies the PGWALSTREAMS_ variables; reports those of a section that name no key. */
export function applyOverrides(
  raw: Mapping,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  sources: EnvSource[],
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
export function applyLibpqFallbacks(
  raw: Mapping,
  env: NodeJS.ProcessEnv,
  problems: ConfigProblem[],
  sources: EnvSource[],
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

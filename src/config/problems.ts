/**
 * Wording configuration problems as fixes: the zod error map for the generic issues (wrong type,
 * required key, value not in a list), zod issues turned into problems under their key path,
 * unknown keys with the closest known key, and the variable a problem's value came from.
 */
import * as z from 'zod';
import type { ConfigProblem } from '../errors.js';
import { ENV_OVERRIDES, LIBPQ_FALLBACKS, type EnvSource } from './env.js';
import { configSchema } from './schema.js';
import { closest } from './suggest.js';
import { formatPath, inputSchema, quote } from './tree.js';

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
  if (suggestion) return `unknown key ${quote(key)}: did you mean ${suggestion}?`;
  return `unknown key ${quote(key)}: remove it or use one of ${known.join(', ')}`;
}

/** Names the kind of a value as a message puts it: `a list`, `a number`, `nothing`. */
export function describeValue(value: unknown): string {
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
export const errorMap: z.core.$ZodErrorMap = (issue) => {
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
      return `${quote(issue.input)} is not one of ${issue.values.map(String).join(', ')}: pick one of them`;
    default:
      return undefined;
  }
};

/** Turns zod issues into problems under their key path, one for each unknown key. */
export function toProblems(issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
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

/** Names the environment variable a problem's key came from, if any. */
export function withSource(problem: ConfigProblem, sources: readonly EnvSource[]): ConfigProblem {
  const source = sources.find(
    (s) =>
      problem.path === s.path ||
      problem.path.startsWith(`${s.path}.`) ||
      problem.path.startsWith(`${s.path}[`),
  );
  return source ? { ...problem, message: `${problem.message} (from ${source.variable})` } : problem;
}

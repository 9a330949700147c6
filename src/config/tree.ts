/**
 * The configuration as a tree: the raw mapping read from YAML and the environment, walked and
 * written by key path, the way a path and a value are printed in messages, and the schema node
 * that checks the input at a key.
 */
import * as z from 'zod';

/** A section of the raw configuration: keys to values, as YAML and the environment give them. */
export type Mapping = Record<string, unknown>;

/** Tells whether a value is a mapping (an object that is not a list). */
export function isMapping(value: unknown): value is Mapping {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The most characters of a value a message quotes; a longer value is cut to them. */
export const QUOTE_LIMIT = 64;

/** What follows the quoted start of a value cut short, before its size. */
export const CUT_MARK = '… (';

/**
 * A value as a message quotes it: as JSON, or, when a string (or the JSON of another value) is
 * longer than {@link QUOTE_LIMIT}, its start and its size, `"aaaa"… (52428800 bytes)`, so that a
 * huge value never fills a message.
 */
export function quote(value: unknown): string {
  const isString = typeof value === 'string';
  const text = isString ? value : (JSON.stringify(value) ?? String(value));
  if (text.length <= QUOTE_LIMIT) return isString ? JSON.stringify(value) : text;
  // Never half a surrogate pair: JSON would show it as an escape.
  const head = text.slice(0, /[\uD800-\uDBFF]/.test(text[QUOTE_LIMIT - 1]!) ? QUOTE_LIMIT - 1 : QUOTE_LIMIT);
  return `${isString ? JSON.stringify(head) : head}${CUT_MARK}${Buffer.byteLength(text)} bytes)`;
}

/** `a.b[1]`, with keys that are not plain names (or are long) quoted: `tables["public.users"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (
      typeof segment === 'string' &&
      segment.length <= QUOTE_LIMIT &&
      /^[A-Za-z_][A-Za-z0-9_-]*$/.test(segment)
    ) {
      out += out === '' ? segment : `.${segment}`;
    } else out += `[${quote(String(segment))}]`;
  }
  return out;
}

/** Returns the value at a key path, or undefined when a section on the way is absent or not a mapping. */
export function getIn(root: unknown, segments: readonly string[]): unknown {
  let current = root;
  for (const segment of segments) {
    if (!isMapping(current)) return undefined;
    current = current[segment];
  }
  return current;
}

/** Sets a key, creating missing sections; leaves a non-mapping section alone for the schema to report. */
export function setIn(root: Mapping, segments: readonly string[], value: unknown): void {
  let current = root;
  for (const segment of segments.slice(0, -1)) {
    const next = current[segment];
    if (next === undefined) current = current[segment] = {};
    else if (isMapping(next)) current = next;
    else return;
  }
  current[segments[segments.length - 1] as string] = value;
}

/** Strips defaults, optionality and transforms to reach the schema that checks the input. */
export function inputSchema(schema: z.core.$ZodType): z.core.$ZodType {
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

/** A row's key as one string, made the same way from a chunk row and from a streamed change. */

/** The key of a row from its key columns' text, in key order (null for SQL NULL). */
export function rowKeyOf(values: readonly (string | null)[]): string {
  return JSON.stringify(values);
}

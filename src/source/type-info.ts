/**
 * What the catalog says of a type that pgoutput only names: enums, domains, arrays, composites,
 * ranges and multiranges. `event/values.ts` builds value writers from it; `type-catalog.ts` fills
 * it from `pg_type`.
 */

/** What is known about a non-built-in (or built-in container) type, from the catalog. */
export type TypeInfo =
  /** An enum: the label as a string. */
  | { kind: 'enum' }
  /** A domain: the mapping of its base type. */
  | { kind: 'domain'; base: number }
  /** An array: a JSON array of the element type's mapping; `delimiter` is the element type's `typdelim`. */
  | { kind: 'array'; element: number; delimiter: string }
  /** A composite: a JSON object; `fields` in attribute order, dropped attributes left out. */
  | { kind: 'composite'; fields: readonly { name: string; type: number }[] }
  /** A range over `subtype`. */
  | { kind: 'range'; subtype: number }
  /** A multirange of the range type `range`. */
  | { kind: 'multirange'; range: number }
  /** A scalar without a special mapping: its text as a string. */
  | { kind: 'base' };

/** Looks up types that are not built in (filled from the catalog by `TypeCatalog`). */
export interface TypeLookup {
  get(oid: number): TypeInfo | undefined;
}

/**
 * PostgreSQL's FirstGenbkiObjectId: OIDs below it are hand-assigned built-ins, fixed across
 * versions. Those `event/values.ts` has no table entry for are scalars written as text; above
 * it, a type must come from the lookup.
 */
export const FIRST_GENBKI_OBJECT_ID = 10000;

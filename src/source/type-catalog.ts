/**
 * Type information for user-defined types (enums, domains, arrays, composites, ranges), read from
 * the catalog and cached. pgoutput names such types in Type messages but does not say what they
 * are made of; the value mapping needs to know.
 *
 * The cache entry of a type is dropped when a Type message names it, so the next Relation message
 * that uses it reads it afresh. A composite type can change (`ALTER TYPE … ADD ATTRIBUTE …
 * CASCADE`) without a Type or Relation message; the session then clears the cache when a value no
 * longer matches and reads the types again.
 */
import type pg from 'pg';
import type { TypeInfo, TypeLookup } from './type-info.js';

/** Reads what the catalog says of the given types (over the session's SQL connection). */
export type ReadTypes = (oids: readonly number[]) => Promise<ReadonlyMap<number, TypeInfo>>;

/** A cache of catalog type information, filled on demand. */
export class TypeCatalog implements TypeLookup {
  private readonly types = new Map<number, TypeInfo>();

  /** The cached information for `oid`, if any. */
  get(oid: number): TypeInfo | undefined {
    return this.types.get(oid);
  }

  /** Forgets `oid`, so that it is read again when next needed. */
  forget(oid: number): void {
    this.types.delete(oid);
  }

  /** Forgets everything (a type changed without a Type message, as composites do). */
  clear(): void {
    this.types.clear();
  }

  /**
   * Reads whatever `missing` reports until nothing is missing (composites reveal their field
   * types). A type the catalog does not return (it no longer exists) is cached as a plain base
   * type, so its values are published as text rather than dropped.
   */
  async complete(read: ReadTypes, missing: () => number[]): Promise<void> {
    for (let round = 0; round < 16; round++) {
      const oids = missing();
      if (oids.length === 0) return;
      const found = await read(oids);
      for (const oid of oids) this.types.set(oid, found.get(oid) ?? { kind: 'base' });
    }
  }
}

interface TypeRow {
  oid: number;
  typtype: string;
  typcategory: string;
  typelem: number;
  /** For an array, the element type's delimiter (what array output uses). */
  typdelim: string;
  typbasetype: number;
  typrelid: number;
  rngsubtype: number | null;
  multirange_of: number | null;
}

interface FieldRow {
  attrelid: number;
  attname: string;
  atttypid: number;
}

/**
 * A `ReadTypes` that queries `pg_type`, `pg_range` and `pg_attribute` on `client`;
 * `serverVersion` (`server_version_num`) decides whether multiranges exist (PostgreSQL 14+).
 */
export function catalogTypeReader(client: pg.Client, serverVersion: number): ReadTypes {
  const multirange =
    serverVersion >= 140000
      ? '(SELECT m.rngtypid::int FROM pg_range m WHERE m.rngmultitypid = t.oid)'
      : 'NULL::int';
  return async (oids) => {
    const found = new Map<number, TypeInfo>();
    if (oids.length === 0) return found;
    const rows = (
      await client.query<TypeRow>(
        `SELECT t.oid::int, t.typtype::text, t.typcategory::text, t.typelem::int,
                coalesce((SELECT e.typdelim::text FROM pg_type e WHERE e.oid = t.typelem), ',') AS typdelim,
                t.typbasetype::int, t.typrelid::int,
                (SELECT r.rngsubtype::int FROM pg_range r WHERE r.rngtypid = t.oid) AS rngsubtype,
                ${multirange} AS multirange_of
           FROM pg_type t WHERE t.oid = ANY($1::oid[])`,
        [oids],
      )
    ).rows;
    const composites = rows.filter((r) => r.typtype === 'c').map((r) => r.typrelid);
    const fields =
      composites.length === 0
        ? []
        : (
            await client.query<FieldRow>(
              `SELECT a.attrelid::int, a.attname::text, a.atttypid::int FROM pg_attribute a
                WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
                ORDER BY a.attrelid, a.attnum`,
              [composites],
            )
          ).rows;
    for (const row of rows) found.set(row.oid, describe(row, fields));
    return found;
  };
}

function describe(row: TypeRow, fields: readonly FieldRow[]): TypeInfo {
  switch (row.typtype) {
    case 'e':
      return { kind: 'enum' };
    case 'd':
      return { kind: 'domain', base: row.typbasetype };
    case 'c':
      return {
        kind: 'composite',
        fields: fields
          .filter((f) => f.attrelid === row.typrelid)
          .map((f) => ({ name: f.attname, type: f.atttypid })),
      };
    case 'r':
      return row.rngsubtype === null ? { kind: 'base' } : { kind: 'range', subtype: row.rngsubtype };
    case 'm':
      return row.multirange_of === null ? { kind: 'base' } : { kind: 'multirange', range: row.multirange_of };
    default:
      return row.typcategory === 'A' && row.typelem !== 0
        ? { kind: 'array', element: row.typelem, delimiter: row.typdelim }
        : { kind: 'base' };
  }
}

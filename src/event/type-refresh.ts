/**
 * When a value of a user-defined type does not match what the catalog says of its type.
 *
 * The catalog knows only the current form of a type, so a row written before a composite changed
 * (`ALTER TYPE … ADD ATTRIBUTE … CASCADE`, which sends no Type or Relation message) fails to
 * decode against it. The policy: read the table's types again, at most every 10 s per table, and
 * encode the change anew; a value that still does not match is published as its PostgreSQL text,
 * with a warning, never dropped. A malformed value of a built-in type is never tolerated.
 */
import { DecodeError } from '../errors.js';
import { FIRST_GENBKI_OBJECT_ID } from '../source/type-info.js';
import type { BadValue } from './change-event.js';
import type { Change, Column, Relation, RowChange } from './transaction.js';

/** How often at most the types of one table are read again after a value did not match. */
export const TYPE_REFRESH_MS = 10_000;

/** True when a relation has a column whose type the catalog describes. */
export function usesCatalogTypes(relation: Relation): boolean {
  return relation.columns.some((c) => c.typeOid >= FIRST_GENBKI_OBJECT_ID);
}

/** True when `err`, from encoding `change`, may come from the catalog being out of date. */
export function mayBeStale(err: unknown, change: Change): change is RowChange {
  return err instanceof DecodeError && change.kind === 'row' && usesCatalogTypes(change.relation);
}

/** Remembers when each table's types were last read again. */
export class TypeRefresh {
  private readonly readAt = new WeakMap<Relation, number>();

  /** True when the types of `relation` may be read again at `now` (ms). */
  due(relation: Relation, now: number): boolean {
    return now - (this.readAt.get(relation) ?? 0) >= TYPE_REFRESH_MS;
  }

  /** Records that the types of `relation` were read again at `now` (ms). */
  refreshed(relation: Relation, now: number): void {
    this.readAt.set(relation, now);
  }
}

/**
 * The `BadValue` that publishes a refused value of a user-defined type as its text, after telling
 * `warn`; a refused value of a built-in type is thrown as it was.
 */
export function textForStaleValue(warn: (column: Column, cause: unknown) => void): BadValue {
  return (column, text, cause) => {
    if (column.typeOid < FIRST_GENBKI_OBJECT_ID) throw cause;
    warn(column, cause);
    return JSON.stringify(text);
  };
}

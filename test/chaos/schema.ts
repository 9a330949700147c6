/**
 * The tables of the chaos workload and what a row of each holds.
 *
 * Every row is a function of (table, writer, key, version): `payload(key, version)` is computed the
 * same way in SQL (for the large inserts made by `generate_series`) and here, so the content of
 * every event can be checked without keeping the values written. Keys are numbers; each writer
 * owns its own range, so writers never touch each other's rows (no lock waits, no deadlocks) and
 * each writer's view of its rows is exact.
 */

/** One table the workload writes, or the ledger. */
export interface TableSpec {
  readonly name: string;
  /** The columns of the replica identity key, in the order of the table's key. */
  readonly keyColumns: readonly string[];
  /** `REPLICA IDENTITY FULL`: updates and deletes carry the whole old row in `dataOld`. */
  readonly replicaFull: boolean;
  /** The `CREATE TABLE` statement (and any `ALTER TABLE` after it). */
  readonly ddl: readonly string[];
}

/** A plain primary key. */
export const PLAIN: TableSpec = {
  name: 'chaos_plain',
  keyColumns: ['id'],
  replicaFull: false,
  ddl: [
    'CREATE TABLE chaos_plain (id bigint PRIMARY KEY, writer int NOT NULL, version int NOT NULL, payload text NOT NULL)',
  ],
};

/** A primary key with `REPLICA IDENTITY FULL`. */
export const FULL: TableSpec = {
  name: 'chaos_full',
  keyColumns: ['id'],
  replicaFull: true,
  ddl: [
    'CREATE TABLE chaos_full (id bigint PRIMARY KEY, writer int NOT NULL, version int NOT NULL, payload text NOT NULL)',
    'ALTER TABLE chaos_full REPLICA IDENTITY FULL',
  ],
};

/** A composite primary key: (tenant, id), tenant = key mod 7. */
export const COMPOSITE: TableSpec = {
  name: 'chaos_composite',
  keyColumns: ['tenant', 'id'],
  replicaFull: false,
  ddl: [
    'CREATE TABLE chaos_composite (tenant int NOT NULL, id bigint NOT NULL, writer int NOT NULL, version int NOT NULL, payload text NOT NULL, PRIMARY KEY (tenant, id))',
  ],
};

/** Rows written by the fault loop's probe transactions (one per fault), to time recovery. */
export const PROBE: TableSpec = {
  name: 'chaos_probe',
  keyColumns: ['id'],
  replicaFull: false,
  ddl: [
    'CREATE TABLE chaos_probe (id bigint PRIMARY KEY, writer int NOT NULL, version int NOT NULL, payload text NOT NULL)',
  ],
};

/**
 * The ledger: every transaction of the workload inserts its id and xid here, in the same
 * transaction, so whether a transaction committed can be looked up after its outcome was lost.
 */
export const LEDGER: TableSpec = {
  name: 'chaos_ledger',
  keyColumns: ['txid'],
  replicaFull: false,
  ddl: ['CREATE TABLE chaos_ledger (txid text PRIMARY KEY, writer int NOT NULL, xid bigint NOT NULL)'],
};

/** The tables the writers change at random. */
export const WORKLOAD_TABLES: readonly TableSpec[] = [PLAIN, FULL, COMPOSITE];

/** Every table whose changes reach the stream, by name. */
export const TABLES: ReadonlyMap<string, TableSpec> = new Map(
  [PLAIN, FULL, COMPOSITE, PROBE, LEDGER].map((table) => [table.name, table]),
);

/** The column values of a row, in the table's column order (the order events list them in). */
export type Row = Record<string, string | number>;

const TENANTS = 7;
const PAD = 'abcdefghij';

/** The payload of row `key` at `version`: 20 to 119 characters. */
export function payload(key: number, version: number): string {
  return `${key}:${version}:`.padEnd(20 + (key % 100), PAD);
}

/** `payload(key, version)` as SQL over the expressions `key` and `version`. */
export function payloadSql(key: string, version: string): string {
  return `rpad(${key} || ':' || ${version} || ':', 20 + (${key} % 100)::int, '${PAD}')`;
}

/** The key columns of row `key` of a workload or probe table. */
export function keyOf(table: TableSpec, key: number): Row {
  return table === COMPOSITE ? { tenant: key % TENANTS, id: key } : { id: key };
}

/** Row `key` of a workload or probe table as `writer` wrote it at `version`. */
export function rowOf(table: TableSpec, writer: number, key: number, version: number): Row {
  return { ...keyOf(table, key), writer, version, payload: payload(key, version) };
}

/** The SQL condition on the key of one row, with its parameters from `$first` on. */
export function keyCondition(
  table: TableSpec,
  key: number,
  first: number,
): { sql: string; params: number[] } {
  return table === COMPOSITE
    ? { sql: `tenant = $${first} AND id = $${first + 1}`, params: [key % TENANTS, key] }
    : { sql: `id = $${first}`, params: [key] };
}

/** The `SELECT` list that `INSERT … SELECT … FROM generate_series(…) g` uses for a large insert. */
export function generatedRowSql(table: TableSpec, writer: number): string {
  const tenant = table === COMPOSITE ? `(g % ${TENANTS})::int, ` : '';
  return `${tenant}g, ${writer}, 1, ${payloadSql('g', '1')}`;
}

/** The column list of a workload or probe table, in order. */
export function columnsOf(table: TableSpec): string {
  return table === COMPOSITE ? 'tenant, id, writer, version, payload' : 'id, writer, version, payload';
}

/** The text that names a row by its key columns in `values` (an event's data or dataOld, or a table row). */
export function keyText(table: TableSpec, values: Record<string, unknown>): string {
  let text = '';
  for (const column of table.keyColumns) text += `${String(values[column])}/`;
  return text;
}

/**
 * What a backfill reads from PostgreSQL: which tables the publication has, a table's columns and
 * key, its rows in primary-key chunks, and the key of a published row.
 *
 * Rows are read over a connection made by `connectRowReader`: the replication connection's session
 * settings and every value as the server's text, so that a row read here is exactly the text
 * pgoutput sends for it, and its event is the same JSON a change of it would carry.
 */
import type pg from 'pg';
import { ReplicationError } from '../errors.js';
import type { TableProgress } from './progress.js';
import type { RelationMessage } from '../source/pgoutput/messages.js';
import { quoteIdent } from '../source/replication-connection.js';
import { rowKeyOf } from './row-key.js';

/** A column as the catalog describes it. */
export interface TableColumn {
  name: string;
  typeOid: number;
  typeMod: number;
  /** `format_type` of the column: what a key value is cast to in a query. */
  typeName: string;
}

/** A table a backfill reads. */
export interface TableInfo {
  oid: number;
  schema: string;
  table: string;
  /** `d` default, `f` full, `i` index, `n` nothing. */
  replicaIdentity: string;
  /** The columns pgoutput publishes (not dropped, not generated), in order. */
  columns: TableColumn[];
  /** Positions in `columns` of the primary key, in key order; empty when the table has none. */
  keyIndexes: number[];
  /** The planner's row estimate; -1 when the table was never analysed. */
  estimate: number;
}

/** `schema.table` as it is written in commands and logs. */
export function tableName(t: { schema: string; table: string }): string {
  return `${t.schema}.${t.table}`;
}

/** The quoted name of a table for a query. */
function qualified(t: { schema: string; table: string }): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.table)}`;
}

/** The tables of a publication, by schema and name. */
export async function publishedTables(
  sql: pg.Client,
  publication: string,
): Promise<{ schema: string; table: string }[]> {
  const r = await sql.query<{ schemaname: string; tablename: string }>(
    'SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2',
    [publication],
  );
  return r.rows.map((row) => ({ schema: row.schemaname, table: row.tablename }));
}

/**
 * True when the publication publishes the table, or does not exist yet (the service creates it
 * `FOR ALL TABLES`).
 */
export async function isPublished(
  sql: pg.Client,
  publication: string,
  t: { schema: string; table: string },
): Promise<boolean> {
  const exists = await sql.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [publication]);
  if ((exists.rowCount ?? 0) === 0) return true;
  const r = await sql.query(
    'SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND schemaname = $2 AND tablename = $3',
    [publication, t.schema, t.table],
  );
  return (r.rowCount ?? 0) > 0;
}

/** Reads a table's columns and key; null when there is no such table. */
export async function describeTable(
  sql: pg.Client,
  t: { schema: string; table: string },
): Promise<TableInfo | null> {
  const rel = await sql.query<{ oid: string; relreplident: string; estimate: string }>(
    `SELECT c.oid, c.relreplident, c.reltuples::bigint AS estimate FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`,
    [t.schema, t.table],
  );
  const row = rel.rows[0];
  if (!row) return null;
  const cols = await sql.query<{ attname: string; atttypid: string; atttypmod: string; typename: string }>(
    `SELECT attname, atttypid, atttypmod, format_type(atttypid, atttypmod) AS typename FROM pg_attribute
      WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum`,
    [row.oid],
  );
  const columns = cols.rows.map((c) => ({
    name: c.attname,
    typeOid: Number(c.atttypid),
    typeMod: Number(c.atttypmod),
    typeName: c.typename,
  }));
  const pk = await sql.query<{ attname: string }>(
    `SELECT a.attname FROM pg_index i
       CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
      WHERE i.indrelid = $1 AND i.indisprimary ORDER BY k.ord`,
    [row.oid],
  );
  return {
    oid: Number(row.oid),
    schema: t.schema,
    table: t.table,
    replicaIdentity: row.relreplident,
    columns,
    keyIndexes: pk.rows.map((k) => columns.findIndex((c) => c.name === k.attname)),
    estimate: Number(row.estimate),
  };
}

/**
 * Why a backfill cannot read a table by key, or null when it can: it needs a primary key, and a
 * replica identity that makes every change of the table name that key (default or full).
 */
export function keyProblem(t: TableInfo): string | null {
  if (t.keyIndexes.length === 0) {
    return (
      `table ${tableName(t)} has no primary key: a backfill reads a table in key order and matches its rows ` +
      `with the changes streamed meanwhile by key; add a primary key (ALTER TABLE … ADD PRIMARY KEY …)`
    );
  }
  if (t.replicaIdentity === 'n' || t.replicaIdentity === 'i') {
    return (
      `table ${tableName(t)} has REPLICA IDENTITY ${t.replicaIdentity === 'n' ? 'NOTHING' : 'USING INDEX'}: ` +
      `its deletes do not carry the primary key, so a backfill cannot tell which rows they remove; ` +
      `set REPLICA IDENTITY DEFAULT or FULL`
    );
  }
  return null;
}

/** The Relation message pgoutput would send for the table (its id is the table's oid). */
export function relationOf(t: TableInfo): RelationMessage {
  const key = new Set(t.keyIndexes);
  return {
    tag: 'relation',
    relationId: t.oid,
    schema: t.schema,
    name: t.table,
    replicaIdentity: t.replicaIdentity,
    columns: t.columns.map((c, i) => ({
      isKey: t.replicaIdentity === 'f' || key.has(i),
      name: c.name,
      typeOid: c.typeOid,
      typeMod: c.typeMod,
    })),
  };
}

/** A row as the server's text of each value (null for SQL NULL), in the order of `columns`. */
export type TextRow = (string | null)[];

/** The key of a row as one string (see `rowKeyOf`). */
export function rowKey(row: readonly (string | null)[], keyIndexes: readonly number[]): string {
  return rowKeyOf(keyIndexes.map((i) => row[i] ?? null));
}

/** The query of a chunk: rows after `after` (a key's text, or none), in key order, at most `limit`. */
export function chunkQuery(
  t: TableInfo,
  after: readonly string[] | null,
  where: string | null,
  limit: number,
): { text: string; values: string[] } {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const key = t.keyIndexes.map((i) => quoteIdent(t.columns[i]!.name));
  const conditions: string[] = [];
  if (after) {
    const params = t.keyIndexes.map((i, n) => `$${n + 1}::${t.columns[i]!.typeName}`);
    conditions.push(`(${key.join(', ')}) > (${params.join(', ')})`);
  }
  if (where !== null) conditions.push(`(${where})`);
  return {
    text:
      `SELECT ${cols} FROM ${qualified(t)}` +
      (conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '') +
      ` ORDER BY ${key.join(', ')} LIMIT ${Math.floor(limit)}`,
    values: after ? [...after] : [],
  };
}

/** Reads one chunk (see `chunkQuery`). */
export async function readChunk(
  sql: pg.Client,
  t: TableInfo,
  after: readonly string[] | null,
  where: string | null,
  limit: number,
): Promise<TextRow[]> {
  const q = chunkQuery(t, after, where, limit);
  const r = await sql.query<TextRow>({ text: q.text, values: q.values, rowMode: 'array' });
  return r.rows;
}

/** Checks that `where` is a condition on the table the server accepts; throws its error worded. */
export async function checkWhere(sql: pg.Client, t: TableInfo, where: string): Promise<void> {
  try {
    await sql.query(`EXPLAIN SELECT 1 FROM ${qualified(t)} WHERE (${where})`);
  } catch (cause) {
    throw new ReplicationError(
      `--where ${JSON.stringify(where)} is not a condition on ${tableName(t)}: postgresql said ` +
        `${cause instanceof Error ? cause.message : String(cause)}`,
      { cause, retryable: false },
    );
  }
}

/**
 * The key (as text) of a row given as its event's `data` JSON: the server reads the JSON into a row
 * of the table (`json_populate_record`) and prints its key columns. Null when the JSON is not one.
 */
export async function keyOfEventData(sql: pg.Client, t: TableInfo, data: unknown): Promise<string[] | null> {
  const cols = t.keyIndexes.map((i) => `(r).${quoteIdent(t.columns[i]!.name)}::text`);
  try {
    const r = await sql.query<string[]>({
      text: `SELECT ${cols.join(', ')} FROM (SELECT json_populate_record(null::${qualified(t)}, $1::json) AS r) s`,
      values: [JSON.stringify(data)],
      rowMode: 'array',
    });
    const row = r.rows[0];
    return row && row.every((v) => v !== null) ? row : null;
  } catch {
    return null;
  }
}

/** True when key `a` comes after key `b` in the table's key order (both as text). */
export async function keyAfter(
  sql: pg.Client,
  t: TableInfo,
  a: readonly string[],
  b: readonly string[],
): Promise<boolean> {
  const n = t.keyIndexes.length;
  const cast = (offset: number) =>
    t.keyIndexes.map((i, k) => `$${offset + k + 1}::${t.columns[i]!.typeName}`).join(', ');
  const r = await sql.query<{ after: boolean | string }>(`SELECT (${cast(0)}) > (${cast(n)}) AS after`, [
    ...a,
    ...b,
  ]);
  const after = r.rows[0]?.after;
  return after === true || after === 't'; // a row reader's connection returns the text `t`
}

/** The progress entry of a table a backfill has not started. */
export function pendingTable(info: TableInfo): TableProgress {
  return {
    schema: info.schema,
    table: info.table,
    state: 'pending',
    key: info.keyIndexes.map((i) => info.columns[i]!.name),
    lastKey: null,
    rows: 0,
    estimate: info.estimate,
    chunks: 0,
  };
}

/**
 * The `COPY … TO STDOUT` (text format) of a whole table in key order (in storage order without a
 * key): its rows as the server's text of each value, streamed.
 */
export function tableCopy(t: TableInfo): string {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const order =
    t.keyIndexes.length > 0
      ? ` ORDER BY ${t.keyIndexes.map((i) => quoteIdent(t.columns[i]!.name)).join(', ')}`
      : '';
  return `COPY (SELECT ${cols} FROM ${qualified(t)}${order}) TO STDOUT`;
}

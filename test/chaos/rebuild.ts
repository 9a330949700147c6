/**
 * Rebuilds each table from the stream as a consumer would: every event applied in stream order by
 * key (insert and update set the row to `data`, delete removes it), duplicates and all; then
 * compares the result with the table itself, read with a cursor. A lost, repeated or reordered
 * change shows here as a row that differs, is missing or is left over, whatever the ledger says.
 */
import pg from 'pg';
import { keyText, TABLES, type TableSpec } from './schema.js';

/** How the rebuilt tables compare with the database. */
export interface RebuildResult {
  rowsCompared: number;
  /** Rows whose rebuilt content differs from the table's. */
  differ: number;
  /** Rows of the table that the rebuild does not have. */
  missing: number;
  /** Rows the rebuild has that the table does not. */
  extra: number;
  /** Events that could not apply cleanly: an insert of a key that exists, an update or delete of one that does not. */
  conflicts: number;
  examples: string[];
}

const EXAMPLES = 5;
const FETCH = 10_000;

export class TableRebuild {
  private readonly tables = new Map<TableSpec, Map<string, string>>(
    [...TABLES.values()].map((table) => [table, new Map()]),
  );
  private conflicts = 0;
  private readonly examples: string[] = [];

  /** Applies one event of `table` (its action in upper case, as events carry it). */
  apply(
    table: TableSpec,
    action: string,
    data: Record<string, unknown>,
    dataOld: Record<string, unknown>,
    seq: number,
  ): void {
    const rows = this.tables.get(table)!;
    const deleting = action === 'DELETE';
    const key = keyText(table, deleting ? dataOld : data);
    const exists = rows.has(key);
    if (exists === (action === 'INSERT'))
      this.conflict(
        `seq ${seq}: ${action} of ${table.name} ${key} that ${exists ? 'exists' : 'does not exist'}`,
      );
    if (deleting) rows.delete(key);
    else rows.set(key, JSON.stringify(data));
  }

  /** Compares every rebuilt table with the database at `connectionString`. */
  async compare(connectionString: string): Promise<RebuildResult> {
    const result: RebuildResult = {
      rowsCompared: 0,
      differ: 0,
      missing: 0,
      extra: 0,
      conflicts: this.conflicts,
      examples: [...this.examples],
    };
    const note = (text: string) => {
      if (result.examples.length < EXAMPLES) result.examples.push(text);
    };
    const client = new pg.Client({ connectionString });
    await client.connect();
    try {
      for (const [table, rows] of this.tables) {
        await client.query('BEGIN');
        await client.query(
          `DECLARE rebuild NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${table.name} t`,
        );
        for (;;) {
          const batch = await client.query<{ j: string }>(`FETCH ${FETCH} FROM rebuild`);
          for (const { j } of batch.rows) {
            const row = JSON.parse(j) as Record<string, unknown>;
            const key = keyText(table, row);
            const rebuilt = rows.get(key);
            result.rowsCompared++;
            if (rebuilt === undefined) {
              result.missing++;
              note(`${table.name} ${key}: in the table, not in the rebuild`);
            } else if (rebuilt !== JSON.stringify(row)) {
              result.differ++;
              note(`${table.name} ${key}: table ${JSON.stringify(row)}, rebuild ${rebuilt}`);
            }
            rows.delete(key);
          }
          if (batch.rows.length < FETCH) break;
        }
        await client.query('COMMIT');
        for (const key of rows.keys()) {
          result.extra++;
          note(`${table.name} ${key}: in the rebuild, not in the table`);
        }
        rows.clear();
      }
    } finally {
      await client.end();
    }
    return result;
  }

  private conflict(text: string): void {
    this.conflicts++;
    if (this.examples.length < EXAMPLES) this.examples.push(text);
  }
}

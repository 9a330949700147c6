/**
 * The pure parts of the table reader: the chunk query, why a table cannot be backfilled, the
 * Relation message made from the catalog, and the key of a chunk row.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rowKeyOf } from '../../src/backfill/row-key.js';
import {
  chunkQuery,
  keyProblem,
  relationOf,
  rowKey,
  tableName,
  type TableInfo,
} from '../../src/backfill/table-reader.js';

/**
 * `orders (id uuid, tenant int4, "created at" timestamptz, "Note""s" varchar(64),
 * PRIMARY KEY (tenant, id))`: a composite key in another order than the columns.
 */
function orders(overrides: Partial<TableInfo> = {}): TableInfo {
  return {
    oid: 16400,
    schema: 'public',
    table: 'orders',
    replicaIdentity: 'd',
    columns: [
      { name: 'id', typeOid: 2950, typeMod: -1, typeName: 'uuid' },
      { name: 'tenant', typeOid: 23, typeMod: -1, typeName: 'integer' },
      { name: 'created at', typeOid: 1184, typeMod: -1, typeName: 'timestamp with time zone' },
      { name: 'Note"s', typeOid: 1043, typeMod: 68, typeName: 'character varying(64)' },
    ],
    keyIndexes: [1, 0],
    estimate: 1000,
    ...overrides,
  };
}

const COLUMNS = '"id", "tenant", "created at", "Note""s"';
const UUID = '0f8fad5b-d9cb-469f-a165-70867728950e';

describe('chunkQuery', () => {
  test('the first chunk: every column, in key order, at most the limit', () => {
    assert.deepEqual(chunkQuery(orders(), null, null, 500), {
      text: `SELECT ${COLUMNS} FROM "public"."orders" ORDER BY "tenant", "id" LIMIT 500`,
      values: [],
    });
  });

  test('a later chunk: after the last key, each part cast to its column type', () => {
    const after = ['7', UUID];
    const q = chunkQuery(orders(), after, null, 500);
    assert.deepEqual(q, {
      text:
        `SELECT ${COLUMNS} FROM "public"."orders" WHERE ("tenant", "id") > ($1::integer, $2::uuid) ` +
        `ORDER BY "tenant", "id" LIMIT 500`,
      values: ['7', UUID],
    });
    assert.notEqual(q.values, after, 'the values are a copy');
  });

  test('a where condition, in parentheses, with the key condition or alone', () => {
    const where = `"created at" > now() - interval '1 day' OR tenant = 1`;
    assert.equal(
      chunkQuery(orders(), ['7', UUID], where, 100).text,
      `SELECT ${COLUMNS} FROM "public"."orders" WHERE ("tenant", "id") > ($1::integer, $2::uuid) ` +
        `AND ("created at" > now() - interval '1 day' OR tenant = 1) ORDER BY "tenant", "id" LIMIT 100`,
    );
    assert.equal(
      chunkQuery(orders(), null, where, 100).text,
      `SELECT ${COLUMNS} FROM "public"."orders" WHERE (${where}) ORDER BY "tenant", "id" LIMIT 100`,
    );
  });

  test('quotes odd schema, table and column names, and casts to types with modifiers', () => {
    const t = orders({
      schema: 'My Schema',
      table: 'we"ird.table',
      columns: [
        { name: 'Key "1"', typeOid: 1043, typeMod: 68, typeName: 'character varying(64)' },
        { name: 'select', typeOid: 1700, typeMod: 655366, typeName: 'numeric(10,2)' },
      ],
      keyIndexes: [0, 1],
    });
    assert.deepEqual(chunkQuery(t, ['a"b', '1.50'], null, 10), {
      text:
        `SELECT "Key ""1""", "select" FROM "My Schema"."we""ird.table" ` +
        `WHERE ("Key ""1""", "select") > ($1::character varying(64), $2::numeric(10,2)) ` +
        `ORDER BY "Key ""1""", "select" LIMIT 10`,
      values: ['a"b', '1.50'],
    });
  });

  test('writes the limit as a whole number', () => {
    assert.match(chunkQuery(orders(), null, null, 2.9).text, / LIMIT 2$/);
  });
});

describe('keyProblem', () => {
  test('is null for a table with a primary key and replica identity default or full', () => {
    assert.equal(keyProblem(orders()), null);
    assert.equal(keyProblem(orders({ replicaIdentity: 'f' })), null);
  });

  test('names a table without a primary key and says what to add', () => {
    const problem = keyProblem(orders({ keyIndexes: [] }));
    assert.match(problem ?? '', /^table public\.orders has no primary key: /);
    assert.match(problem ?? '', /add a primary key \(ALTER TABLE … ADD PRIMARY KEY …\)$/);
  });

  test('names replica identity nothing and using index, and the settings to use', () => {
    for (const [identity, words] of [
      ['n', 'NOTHING'],
      ['i', 'USING INDEX'],
    ]) {
      const problem = keyProblem(orders({ replicaIdentity: identity! }));
      assert.match(problem ?? '', new RegExp(`^table public\\.orders has REPLICA IDENTITY ${words}: `));
      assert.match(problem ?? '', /do not carry the primary key/);
      assert.match(problem ?? '', /set REPLICA IDENTITY DEFAULT or FULL$/);
    }
  });

  test('puts the missing key first when both are wrong', () => {
    assert.match(keyProblem(orders({ keyIndexes: [], replicaIdentity: 'n' })) ?? '', /has no primary key/);
  });
});

describe('relationOf', () => {
  test('is the Relation message pgoutput sends for the table: its oid, names, columns, key', () => {
    assert.deepEqual(relationOf(orders()), {
      tag: 'relation',
      relationId: 16400,
      schema: 'public',
      name: 'orders',
      replicaIdentity: 'd',
      columns: [
        { isKey: true, name: 'id', typeOid: 2950, typeMod: -1 },
        { isKey: true, name: 'tenant', typeOid: 23, typeMod: -1 },
        { isKey: false, name: 'created at', typeOid: 1184, typeMod: -1 },
        { isKey: false, name: 'Note"s', typeOid: 1043, typeMod: 68 },
      ],
    });
  });

  test('marks every column as key with replica identity full, as pgoutput does', () => {
    const relation = relationOf(orders({ replicaIdentity: 'f' }));
    assert.equal(relation.replicaIdentity, 'f');
    assert.deepEqual(
      relation.columns.map((c) => c.isKey),
      [true, true, true, true],
    );
  });
});

describe('rowKey and tableName', () => {
  test('the key of a chunk row is its key columns, in key order', () => {
    const row = [UUID, '7', '2024-01-01 10:00:00+00', null];
    assert.equal(rowKey(row, [1, 0]), rowKeyOf(['7', UUID]));
    assert.equal(rowKey(row, [1, 0]), JSON.stringify(['7', UUID]));
    assert.notEqual(rowKey(row, [0, 1]), rowKey(row, [1, 0]));
  });

  test('keeps a SQL NULL apart from the text "null", and a column past the row is null', () => {
    assert.equal(rowKey(['1', null], [1]), '[null]');
    assert.equal(rowKey(['1', 'null'], [1]), '["null"]');
    assert.equal(rowKey(['1'], [0, 3]), '["1",null]');
  });

  test('keys that join to the same text stay apart', () => {
    assert.notEqual(rowKey(['a,b', 'c'], [0, 1]), rowKey(['a', 'b,c'], [0, 1]));
  });

  test('tableName is schema.table', () => {
    assert.equal(tableName(orders()), 'public.orders');
  });
});

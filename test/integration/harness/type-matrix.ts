/**
 * The type matrix: a column of every mapped type (and arrays of them) and rows of ordinary, edge and
 * NULL values, shared by the tests of changes (types.test.ts) and of snapshots.
 */
/** Anything that runs SQL text: the harness's server or a client. */
type Sql = { query(sql: string): Promise<unknown> };

/** Columns compared by feeding the event back through jsonb_populate_record. */
export const ROUND_TRIP: Record<string, string> = {
  c_bool: 'bool',
  c_int2: 'int2',
  c_int4: 'int4',
  c_int8: 'int8',
  c_oid: 'oid',
  c_numeric: 'numeric',
  c_float4: 'float4',
  c_float8: 'float8',
  c_text: 'text',
  c_varchar: 'varchar(40)',
  c_char: 'char(5)',
  c_name: 'name',
  c_citext: 'citext',
  c_uuid: 'uuid',
  c_inet: 'inet',
  c_cidr: 'cidr',
  c_macaddr: 'macaddr',
  c_money: 'money',
  c_tsvector: 'tsvector',
  c_bit: 'bit(4)',
  c_varbit: 'varbit',
  c_enum: 'mood',
  c_jsonb: 'jsonb',
  c_ts: 'timestamp',
  c_tstz: 'timestamptz',
  c_time: 'time',
  c_timetz: 'timetz',
  c_interval: 'interval',
  c_date: 'date',
  c_domain: 'posint',
  c_domain_text: 'shorttext',
  c_composite: 'complex',
  a_int4: 'int4[]',
  a_int8: 'int8[]',
  a_text: 'text[]',
  a_bool: 'bool[]',
  a_numeric: 'numeric[]',
  a_float8: 'float8[]',
  a_date: 'date[]',
  a_tstz: 'timestamptz[]',
  a_jsonb: 'jsonb[]',
  a_uuid: 'uuid[]',
  a_enum: 'mood[]',
  a_2d: 'int4[][]',
  a_composite: 'complex[]',
  a_domain: 'posint[]',
  a_interval: 'interval[]',
};

/** Columns without an equality operator: compared as text after the round trip. */
export const ROUND_TRIP_AS_TEXT: Record<string, string> = { c_json: 'json', c_xml: 'xml', c_point: 'point' };

/** Columns whose JSON form is not PostgreSQL input: expected JSON computed by `expected` below. */
export const SPECIAL: Record<string, string> = {
  c_bytea: 'bytea',
  a_bytea: 'bytea[]',
  c_date_bc: 'date',
  c_ts_bc: 'timestamp',
  c_int4range: 'int4range',
  c_tstzrange: 'tstzrange',
  c_numrange: 'numrange',
  c_multirange: 'int4multirange',
};

export const ROWS = [
  // 1: ordinary values
  `(1, true, 12, 123456, 1234567890123, 42, 3.14, 2.5, 0.1,
    'hello', 'varying', 'abc', 'a_name', 'MiXeD', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', 1234.56, 'a fat cat sat', B'1010', B'101',
    'happy', '{"a": [1, 2.50, "x"], "b": null}', '2024-02-29 13:45:07.123456', '2024-02-29 13:45:07.5+02',
    '23:59:59.999999', '10:00:00+05:30', '1 year 2 mons 3 days 04:05:06.5', '2024-02-29', 7, 'short',
    ROW(1.5, -2, 'z')::complex,
    '{1,2,3}', '{9223372036854775807,-1}', '{"plain","with space","quo\\"te","back\\\\slash","{brace}","NULL"}',
    '{t,f}', '{1.10,2.000000000000000000001}', '{1.5,-0.25}', '{2024-01-01,2024-12-31}',
    '{"2024-01-01 00:00:00+00","2024-06-30 23:59:59.999999+00"}', ARRAY['{"k": 1}'::jsonb, '[]'::jsonb],
    '{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}', '{happy,sad}', '{{1,2},{3,4}}',
    ARRAY[ROW(1, 2, 'a')::complex, ROW(3, 4, 'b "q"')::complex], '{1,2}', '{"1 day","-1 second"}',
    '{"a": [1, 2], "b": "x"}', '<note kind="x">hi &amp; bye</note>', '(1.5,2)',
    '\\x00ff10', ARRAY['\\x00'::bytea, '\\x'::bytea, NULL], '0044-03-15 BC', '0001-01-01 00:00:00 BC',
    '[1,10)', '["2024-01-01 00:00:00+00","2024-02-01 00:00:00+00")', '(,5.5]', '{[1,3),[5,7)}')`,
  // 2: edge values
  `(2, false, -32768, -2147483648, -9223372036854775808, 4294967295,
    1234567890123456789012345678901234567890.123456789, 'Infinity', 'NaN',
    'ünïcødé ✓ "quotes" \\ back\\slash', '', '', '', 'ÄÖÜ', '00000000-0000-0000-0000-000000000000',
    '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', -92233720368547758.08, '', B'0000', B'',
    'sad', '[]', '294276-12-31 23:59:59.999999', 'infinity', '24:00:00', '00:00:00-12', '-178000000 years',
    '-infinity', 1, '', ROW(NULL, NULL, NULL)::complex,
    '{}', '{}', '{"", "ü", "a,b", "{", "}", "\\\\"}', '{NULL,t}', '{NaN,0.000000000000000000000000000001}',
    '{-Infinity,1e-30,1.7976931348623157e308}', '{infinity,NULL}', '{-infinity}', '{}',
    '{}', '{}', '{{NULL,2},{3,NULL}}', '{}', '{NULL}', '{}',
    '0', '<a/>', '(0,0)',
    '\\x', '{}', '4713-11-24 BC', '4713-01-01 00:00:00 BC',
    'empty', '[2024-01-01 00:00:00+00,)', '[1e-30,1e30]', '{}')`,
  // 3: NULL everywhere but the key
];

/** Every column of the matrix (without the key) and its type. */
export const MATRIX_COLUMNS: Record<string, string> = { ...ROUND_TRIP, ...ROUND_TRIP_AS_TEXT, ...SPECIAL };

/** Creates the types the matrix uses (once per database). */
export async function createMatrixTypes(db: Sql): Promise<void> {
  await db.query('CREATE EXTENSION citext');
  await db.query(`CREATE TYPE mood AS ENUM ('happy', 'sad')`);
  await db.query('CREATE DOMAIN posint AS int4 CHECK (VALUE > 0)');
  await db.query('CREATE DOMAIN shorttext AS text CHECK (length(VALUE) < 10)');
  await db.query('CREATE TYPE complex AS (r float8, i float8, label text)');
}

/** Creates the matrix table `name` (key `id`). */
export async function createMatrixTable(db: Sql, name: string): Promise<void> {
  await db.query(
    `CREATE TABLE ${name} (id int PRIMARY KEY, ${Object.entries(MATRIX_COLUMNS)
      .map(([c, t]) => `${c} ${t}`)
      .join(', ')})`,
  );
}

/** Inserts the matrix rows (ids 1 and 2) and a row of NULLs (id 3) into `name`. */
export async function insertMatrixRows(db: Sql, name: string): Promise<void> {
  const list = ['id', ...Object.keys(MATRIX_COLUMNS)].join(', ');
  for (const row of ROWS) await db.query(`INSERT INTO ${name} (${list}) VALUES ${row}`);
  await db.query(`INSERT INTO ${name} (id) VALUES (3)`);
}

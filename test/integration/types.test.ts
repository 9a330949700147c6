/**
 * The type matrix: a table with a column of every mapped type (and arrays of them), rows of
 * ordinary, edge and NULL values, inserted and read back from JetStream.
 *
 * The oracle is PostgreSQL itself. The event's `data` is fed back through
 * `jsonb_populate_record`, which reads each JSON value with the column type's own input rules,
 * and the result must equal what `SELECT` returns for the stored row, column by column. Where
 * the JSON form is by design not PostgreSQL input (bytea as base64, BC dates in ISO 8601
 * astronomical years, ranges as objects), the expected JSON is computed from the stored row.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readStream, waitForCount, type StoredEvent } from './harness/jetstream.js';
import { freshNames, serviceConfig, startServers, startService, type Servers } from './harness/scenario.js';
import {
  createMatrixTable,
  createMatrixTypes,
  insertMatrixRows,
  ROUND_TRIP,
  ROUND_TRIP_AS_TEXT,
  SPECIAL,
} from './harness/type-matrix.js';

describe('type matrix', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
    await createMatrixTypes(s.pg);
  });
  after(async () => {
    await s?.dispose();
  });

  test('every type arrives as faithful JSON, compared with what PostgreSQL stored', async () => {
    const names = await freshNames(s);
    await createMatrixTable(s.pg, 'tm');
    const service = await startService(serviceConfig(s, names));
    try {
      await insertMatrixRows(s.pg, 'tm');
      await waitForCount(s.nc, names.stream, 3);
      const events = await readStream(s.nc, names.stream);
      for (const e of events) await compareRow(s, e);
    } finally {
      await service.dispose();
    }
  });
});

const TS = /^-?\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$|^-?infinity$/;
const TSTZ = /^\d{4,}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$|^-?infinity$/;
const DATE = /^-?\d{4,}-\d\d-\d\d$|^-?infinity$/;
const isString = (re?: RegExp) => (v: unknown) => typeof v === 'string' && (!re || re.test(v));
const isNumber = (v: unknown) => typeof v === 'number';
const isNumberOr =
  (...specials: string[]) =>
  (v: unknown) =>
    isNumber(v) || specials.includes(v as string);
const arrayOf =
  (check: (v: unknown) => boolean) =>
  (v: unknown): boolean =>
    Array.isArray(v) && v.every((x) => x === null || (Array.isArray(x) ? arrayOf(check)(x) : check(x)));

/** The documented JSON shape and format of each column's non-null values. */
const SHAPE: Record<string, (v: unknown) => boolean> = {
  c_bool: (v) => typeof v === 'boolean',
  c_int2: isNumber,
  c_int4: isNumber,
  c_int8: isNumber,
  c_oid: isNumber,
  c_numeric: isNumberOr('NaN', 'Infinity', '-Infinity'),
  c_float4: isNumberOr('NaN', 'Infinity', '-Infinity'),
  c_float8: isNumberOr('NaN', 'Infinity', '-Infinity'),
  c_enum: isString(/^(happy|sad)$/),
  // Embedded JSON, not a string holding JSON (none of the test values is a JSON string).
  c_jsonb: (v) => typeof v !== 'string',
  c_json: (v) => typeof v !== 'string',
  c_bytea: isString(/^[A-Za-z0-9+/]*={0,2}$/),
  c_date: isString(DATE),
  c_date_bc: isString(DATE),
  c_ts: isString(TS),
  c_ts_bc: isString(TS),
  c_tstz: isString(TSTZ),
  c_time: isString(/^\d\d:\d\d:\d\d\.\d{6}$/),
  c_timetz: isString(/^\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d(:\d\d)?$/),
  c_interval: isString(/^-?P/),
  c_domain: isNumber,
  c_domain_text: isString(),
  c_composite: (v) => typeof v === 'object' && !Array.isArray(v),
  c_int4range: (v) => typeof v === 'object' && !Array.isArray(v),
  c_multirange: Array.isArray,
  a_int4: arrayOf(isNumber),
  a_int8: arrayOf(isNumber),
  a_text: arrayOf(isString()),
  a_bool: arrayOf((v) => typeof v === 'boolean'),
  a_numeric: arrayOf(isNumberOr('NaN')),
  a_float8: arrayOf(isNumberOr('NaN', 'Infinity', '-Infinity')),
  a_date: arrayOf(isString(DATE)),
  a_tstz: arrayOf(isString(TSTZ)),
  a_jsonb: arrayOf((v) => typeof v === 'object'),
  a_uuid: arrayOf(isString()),
  a_enum: arrayOf(isString()),
  a_2d: arrayOf(isNumber),
  a_composite: arrayOf((v) => typeof v === 'object'),
  a_domain: arrayOf(isNumber),
  a_bytea: arrayOf(isString(/^[A-Za-z0-9+/]*={0,2}$/)),
  a_interval: arrayOf(isString(/^-?P/)),
};

describe('user-defined types changing while streaming', () => {
  let s: Servers;
  before(async () => {
    s = await startServers();
  });
  after(async () => {
    await s?.dispose();
  });

  test('a composite gaining an attribute and an enum gaining a label are followed without a restart', async () => {
    // GIVEN a table with a composite and an enum column, streaming
    const names = await freshNames(s);
    await s.pg.query('CREATE TYPE pair AS (a int, b text)');
    await s.pg.query(`CREATE TYPE state AS ENUM ('new')`);
    await s.pg.query('CREATE TABLE things (id int PRIMARY KEY, p pair, st state, ps pair[])');
    const service = await startService(serviceConfig(s, names));
    try {
      await s.pg.query(`INSERT INTO things VALUES (1, ROW(1, 'one'), 'new', ARRAY[ROW(1, 'x')::pair])`);
      await waitForCount(s.nc, names.stream, 1);
      // WHEN the types change (no Type or Relation message tells) and another row is inserted
      await s.pg.query('ALTER TYPE pair ADD ATTRIBUTE c numeric CASCADE');
      await s.pg.query(`ALTER TYPE state ADD VALUE 'done'`);
      await s.pg.query(
        `INSERT INTO things VALUES (2, ROW(2, 'two', 2.5), 'done', ARRAY[ROW(2, 'y', 0.1)::pair])`,
      );
      // THEN each event has the fields of its time
      await waitForCount(s.nc, names.stream, 2);
      const [e1, e2] = (await readStream(s.nc, names.stream)).map((e) => e.event.data);
      assert.deepEqual(e1, { id: 1, p: { a: 1, b: 'one' }, st: 'new', ps: [{ a: 1, b: 'x' }] });
      assert.deepEqual(e2, {
        id: 2,
        p: { a: 2, b: 'two', c: 2.5 },
        st: 'done',
        ps: [{ a: 2, b: 'y', c: 0.1 }],
      });
    } finally {
      await service.dispose();
    }
  });

  test('a row older than the catalog: its composite is published as text with a warning, never dropped', async () => {
    // GIVEN a slot, and while the service is stopped a row, then a change to its composite type
    const names = await freshNames(s);
    await s.pg.query('CREATE TYPE triple AS (a int, b text)');
    await s.pg.query('CREATE TABLE old_rows (id int PRIMARY KEY, t triple)');
    const config = serviceConfig(s, names);
    await (await startService(config)).dispose();
    await s.pg.query(`INSERT INTO old_rows VALUES (1, ROW(1, 'one'))`);
    await s.pg.query('ALTER TYPE triple ADD ATTRIBUTE c int CASCADE');
    await s.pg.query(`INSERT INTO old_rows VALUES (2, ROW(2, 'two', 3))`);
    // WHEN the service starts and reads both rows with today's catalog
    const service = await startService(config);
    try {
      await waitForCount(s.nc, names.stream, 2);
      const [e1, e2] = (await readStream(s.nc, names.stream)).map((e) => e.event.data);
      // THEN the old row's value keeps its PostgreSQL text, and the new row is an object
      assert.deepEqual(e1, { id: 1, t: '(1,one)' });
      assert.deepEqual(e2, { id: 2, t: { a: 2, b: 'two', c: 3 } });
      const warning = await service.waitForLog(/published as text/);
      assert.equal(warning['column'], 't');
    } finally {
      await service.dispose();
    }
  });
});

async function compareRow(s: Servers, e: StoredEvent): Promise<void> {
  const id = e.event.data['id'] as number;
  const data = e.event.data;
  // Every column is present: nothing is dropped.
  assert.deepEqual(
    Object.keys(data).sort(),
    ['id', ...Object.keys(ROUND_TRIP), ...Object.keys(ROUND_TRIP_AS_TEXT), ...Object.keys(SPECIAL)].sort(),
  );

  // Shapes and formats: numbers as numbers, dates in ISO 8601, arrays as arrays, …
  for (const [column, ok] of Object.entries(SHAPE)) {
    const v = data[column];
    if (v !== null)
      assert.ok(ok(v), `row ${id}, ${column}: ${JSON.stringify(v)} is not in the documented form`);
  }
  if (id === 2)
    assert.deepEqual(
      data['a_2d'],
      [
        [null, 2],
        [3, null],
      ],
      '2-D arrays nest',
    );

  // Round trip: PostgreSQL reads the event's JSON back into the column types.
  const checks = [
    ...Object.keys(ROUND_TRIP).map((c) => `t.${c} IS NOT DISTINCT FROM (r).${c} AS ${c}`),
    ...Object.keys(ROUND_TRIP_AS_TEXT).map((c) => `t.${c}::text IS NOT DISTINCT FROM (r).${c}::text AS ${c}`),
  ];
  const rawData = rawDataOf(e.raw);
  const [result] = await s.pg.query<Record<string, boolean>>(
    `SELECT ${checks.join(', ')} FROM tm t,
       (SELECT jsonb_populate_record(NULL::tm, $1::jsonb - $3::text[]) AS r) ev WHERE t.id = $2`,
    [rawData, id, Object.keys(SPECIAL)],
  );
  for (const [column, same] of Object.entries(result!)) {
    const [stored] = await s.pg.query<{ v: string | null }>(
      `SELECT ${column}::text AS v FROM tm WHERE id = $1`,
      [id],
    );
    assert.ok(same, `row ${id}, ${column}: event ${JSON.stringify(data[column])} but stored ${stored?.v}`);
  }
  // Exact digits: the JSON text of int8 and numeric values is PostgreSQL's own text.
  const [digits] = await s.pg.query<{ i: string | null; n: string | null }>(
    'SELECT c_int8::text AS i, c_numeric::text AS n FROM tm WHERE id = $1',
    [id],
  );
  if (digits!.i !== null) assert.ok(rawData.includes(`"c_int8":${digits!.i}`), `row ${id}: int8 text`);
  if (digits!.n !== null && digits!.n !== 'NaN' && !/Infinity/.test(digits!.n)) {
    assert.ok(rawData.includes(`"c_numeric":${digits!.n}`), `row ${id}: numeric text`);
  }

  // The rest: expected JSON computed from the stored row.
  const [stored] = await s.pg.query<Record<string, unknown>>(
    `SELECT encode(c_bytea, 'base64') AS c_bytea,
            (SELECT array_agg(encode(b, 'base64') ORDER BY n) FROM unnest(a_bytea) WITH ORDINALITY AS u(b, n)) AS a_bytea,
            (SELECT coalesce(jsonb_agg(b IS NULL), '[]') FROM unnest(a_bytea) b) AS a_bytea_nulls,
            c_date_bc::text AS c_date_bc, c_ts_bc::text AS c_ts_bc,
            ${rangeJson('c_int4range')} AS c_int4range, ${rangeJson('c_numrange', true)} AS c_numrange,
            ${rangeJson('c_tstzrange')} AS c_tstzrange,
            (SELECT coalesce(jsonb_agg(jsonb_build_object('lower', lower(r), 'upper', upper(r),
               'lowerInclusive', lower_inc(r), 'upperInclusive', upper_inc(r))), '[]')
               FROM unnest(c_multirange) r) AS c_multirange, c_multirange IS NULL AS mr_null
       FROM tm WHERE id = $1`,
    [id],
  );
  const st = stored!;
  assert.equal(
    data['c_bytea'],
    st['c_bytea'] === null ? null : (st['c_bytea'] as string).replaceAll('\n', ''),
  );
  if (data['a_bytea'] === null) assert.equal(st['a_bytea'], null);
  else {
    const nulls = st['a_bytea_nulls'] as boolean[];
    const b64 = ((st['a_bytea'] ?? []) as (string | null)[]).map((v, i) =>
      nulls[i] ? null : (v ?? '').replaceAll('\n', ''),
    );
    assert.deepEqual(data['a_bytea'], b64);
  }
  assert.equal(data['c_date_bc'], isoDate(st['c_date_bc'] as string | null));
  assert.equal(data['c_ts_bc'], isoTimestamp(st['c_ts_bc'] as string | null));
  assert.deepEqual(data['c_int4range'], st['c_int4range']);
  assert.deepEqual(data['c_tstzrange'], tstzRange(st['c_tstzrange']));
  // numrange bounds are numerics: the event's JSON text must hold PostgreSQL's exact digits
  const nr = st['c_numrange'] as Record<string, unknown> | null;
  const expectedNumrange =
    nr === null
      ? 'null'
      : 'empty' in nr
        ? '{"empty":true}'
        : `{"lower":${(nr['lower'] as string | null) ?? 'null'},"upper":${(nr['upper'] as string | null) ?? 'null'},` +
          `"lowerInclusive":${String(nr['lowerInclusive'])},"upperInclusive":${String(nr['upperInclusive'])}}`;
  assert.ok(
    rawData.includes(`"c_numrange":${expectedNumrange}`),
    `row ${id}: numrange should be ${expectedNumrange} in ${rawData}`,
  );
  assert.deepEqual(data['c_multirange'], st['mr_null'] ? null : st['c_multirange']);
}

/** The `data` object of an event, as its exact JSON text (numbers keep their digits). */
function rawDataOf(raw: string): string {
  const start = raw.indexOf('"data":') + '"data":'.length;
  let depth = 0;
  let inString = false;
  for (let i = start; i < raw.length; i++) {
    const ch = raw[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return raw.slice(start, i + 1);
    }
  }
  throw new Error('no data object in event');
}

/** The documented range object, computed in SQL; `empty` → {"empty": true}. */
function rangeJson(column: string, numericAsText = false): string {
  const bound = (f: string) => (numericAsText ? `${f}(${column})::text` : `${f}(${column})`);
  return `CASE WHEN ${column} IS NULL THEN NULL WHEN isempty(${column}) THEN '{"empty": true}'::jsonb
    ELSE jsonb_build_object('lower', ${bound('lower')}, 'upper', ${bound('upper')},
      'lowerInclusive', lower_inc(${column}), 'upperInclusive', upper_inc(${column})) END`;
}

/** `0044-03-15 BC` → `-0043-03-15` (ISO 8601 astronomical year numbering). */
function isoDate(text: string | null): string | null {
  if (text === null) return null;
  const m = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/.exec(text);
  if (!m) return text;
  return m[4] ? `${bcYear(m[1]!)}-${m[2]}-${m[3]}` : text;
}

/** `0001-01-01 00:00:00 BC` → `0000-01-01T00:00:00.000000`. */
function isoTimestamp(text: string | null): string | null {
  if (text === null) return null;
  const m = /^(\d{4,})-(\d\d)-(\d\d) (\d\d:\d\d:\d\d)(?:\.(\d+))?( BC)?$/.exec(text);
  if (!m) return text;
  const year = m[6] ? bcYear(m[1]!) : m[1]!;
  return `${year}-${m[2]}-${m[3]}T${m[4]}.${(m[5] ?? '').padEnd(6, '0')}`;
}

function bcYear(year: string): string {
  const astronomical = 1 - Number(year);
  return astronomical === 0 ? '0000' : `-${String(-astronomical).padStart(4, '0')}`;
}

/** jsonb's timestamptz bounds (`2024-01-01T00:00:00+00:00`) in the event's form (`…00.000000Z`). */
function tstzRange(v: unknown): unknown {
  if (v === null || typeof v !== 'object' || 'empty' in v) return v;
  const r = v as Record<string, unknown>;
  const fix = (b: unknown) =>
    typeof b === 'string'
      ? b.replace(
          /(\d\d:\d\d:\d\d)(?:\.(\d+))?\+00:00$/,
          (_, t: string, f?: string) => `${t}.${(f ?? '').padEnd(6, '0')}Z`,
        )
      : b;
  return { ...r, lower: fix(r['lower']), upper: fix(r['upper']) };
}

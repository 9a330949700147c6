import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CopyTextRows } from '../../src/backfill/copy-text.js';
import { ColumnKind, type Tuple } from '../../src/source/pgoutput/tuple.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const values = (rows: Tuple[]) => rows.map((r) => r.values());

describe('COPY text rows', () => {
  test('columns split at tabs, rows at newlines; \\N is NULL, an empty field is the empty string', () => {
    const rows = new CopyTextRows(3).push(bytes('1\tone\t\\N\n2\t\tx\n'));
    assert.deepEqual(values(rows), [
      ['1', 'one', null],
      ['2', '', 'x'],
    ]);
    assert.deepEqual(
      [rows[0]!.kind(0), rows[0]!.kind(2), rows[1]!.kind(1)],
      [ColumnKind.Text, ColumnKind.Null, ColumnKind.Text],
    );
  });

  test('a row without escapes points into the received bytes', () => {
    const chunk = bytes('7\tplain\n');
    const [row] = new CopyTextRows(2).push(chunk);
    assert.equal(row!.bytes, chunk);
    assert.deepEqual([row!.start(1), row!.end(1)], [2, 7]);
  });

  test('text with bytes above 0x7f is marked UTF-8, per column', () => {
    const [row] = new CopyTextRows(3).push(bytes('ünï\tascii\t✓ done\n'));
    assert.deepEqual(row!.values(), ['ünï', 'ascii', '✓ done']);
    assert.deepEqual(
      [row!.kind(0), row!.kind(1), row!.kind(2)],
      [ColumnKind.TextUtf8, ColumnKind.Text, ColumnKind.TextUtf8],
    );
  });

  test('escapes: \\b \\f \\n \\r \\t \\v \\\\, octal, hexadecimal, any other character for itself', () => {
    const line = 'a\\tb\\nc\\\\d\\re\tx\\by\\fz\\v\t\\101\\0\\7\\x41\\x4a\\q\t\\\\N\t\\N\tü\\n\n';
    const [row] = new CopyTextRows(6).push(bytes(line));
    assert.deepEqual(row!.values(), ['a\tb\nc\\d\re', 'x\by\fz\v', 'A\u0000\u0007AJq', '\\N', null, 'ü\n']);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((i) => row!.kind(i)),
      [
        ColumnKind.Text,
        ColumnKind.Text,
        ColumnKind.Text,
        ColumnKind.Text,
        ColumnKind.Null,
        ColumnKind.TextUtf8,
      ],
    );
  });

  test('a bytea in hex, as COPY writes it, is its text with one backslash', () => {
    const [row] = new CopyTextRows(1).push(bytes('\\\\x00ff10\n'));
    assert.deepEqual(row!.values(), ['\\x00ff10']);
  });

  test('rows split across chunks at every byte give the same rows', () => {
    const text = '1\tüber\t\\N\n22\ta\\tb\t\n333\t\\\\\tend\n';
    const whole = values(new CopyTextRows(3).push(bytes(text)));
    assert.equal(whole.length, 3);
    const all = bytes(text);
    for (let cut = 0; cut <= all.length; cut++) {
      for (let cut2 = cut; cut2 <= all.length; cut2 += 3) {
        const p = new CopyTextRows(3);
        const got = [
          ...p.push(all.subarray(0, cut)),
          ...p.push(all.subarray(cut, cut2)),
          ...p.push(all.subarray(cut2)),
        ];
        p.end();
        assert.deepEqual(values(got), whole, `cut at ${cut} and ${cut2}`);
      }
    }
  });

  test('a row with the wrong number of columns, and data ending inside a row, are errors', () => {
    assert.throws(
      () => new CopyTextRows(2).push(bytes('1\t2\t3\n')),
      /a COPY row has 3 columns where 2 were expected/,
    );
    assert.throws(() => new CopyTextRows(2).push(bytes('1\\t2\n')), /has 1 columns where 2/);
    const p = new CopyTextRows(1);
    p.push(bytes('1\n2'));
    assert.throws(() => p.end(), /COPY data ended inside a row \(1 bytes after the last row\)/);
  });
});

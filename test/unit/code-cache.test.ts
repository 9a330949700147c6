/**
 * Unit tests for loading a CommonJS bundle with V8's code cache (src/code-cache.ts), as the
 * shipped binary loads the service.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadWithCodeCache, writeCodeCache } from '../../src/code-cache.js';

const BODY = `'use strict';
const { basename } = require('node:path');
let loads = (globalThis.__codeCacheTestLoads ?? 0) + 1;
globalThis.__codeCacheTestLoads = loads;
module.exports = { name: basename(__filename), strict: (function () { return this === undefined; })(), loads };
`;

function bundle(body: string): { file: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-code-cache-'));
  const file = join(dir, 'bundle.cjs');
  writeFileSync(file, body);
  return { file, done: () => rmSync(dir, { recursive: true, force: true }) };
}

describe('loadWithCodeCache', () => {
  test('runs the bundle as a CommonJS module, with or without a cache, once per call', () => {
    const { file, done } = bundle(BODY);
    try {
      const first = loadWithCodeCache(file) as { name: string; strict: boolean; loads: number };
      assert.equal(first.name, 'bundle.cjs');
      assert.equal(first.strict, true);
      assert.ok(writeCodeCache(file) > 0);
      assert.ok(existsSync(`${file}.cache`));
      const cached = loadWithCodeCache(file) as { name: string; strict: boolean; loads: number };
      assert.deepEqual({ ...cached, loads: undefined }, { ...first, loads: undefined });
      assert.equal(cached.loads, first.loads + 2); // writeCodeCache ran it too
    } finally {
      done();
    }
  });

  test('a cache of another source is refused by V8 and the source compiled', () => {
    const { file, done } = bundle(BODY);
    try {
      writeCodeCache(file);
      writeFileSync(file, `${BODY}module.exports.changed = true;\n`);
      const loaded = loadWithCodeCache(file) as { changed?: boolean; name: string };
      assert.equal(loaded.changed, true);
      assert.equal(loaded.name, 'bundle.cjs');
    } finally {
      done();
    }
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { MetricName } from '../../src/ops/metrics.js';

/** This file runs from dist/test/deploy/. */
const DASHBOARD = new URL('../../../deploy/grafana/pgwalstreams-dashboard.json', import.meta.url);

describe('grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { id: number; targets: { expr: string }[] }[];
  };
  const exprs = dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr));

  test('every metric it queries exists (histograms through their _bucket series)', () => {
    const known = new Set<string>(Object.values(MetricName));
    const used = new Set(exprs.flatMap((e) => e.match(/pgwalstreams_[a-z_]+/g) ?? []));
    for (const name of used) {
      const base = name.replace(/_bucket$/, '');
      assert.ok(known.has(base), `${name} is not a metric of pgwalstreams`);
    }
    assert.ok(used.size >= 15, `the dashboard shows most metrics (${used.size})`);
  });

  test('the metrics operators need most are on it', () => {
    for (const name of [
      MetricName.lagBytes,
      MetricName.slotRetainedWal,
      MetricName.eventsPublished,
      MetricName.commitToAck,
    ]) {
      assert.ok(
        exprs.some((e) => e.includes(name)),
        `${name} is on the dashboard`,
      );
    }
  });

  test('panel ids are unique', () => {
    const ids = dashboard.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
  });
});

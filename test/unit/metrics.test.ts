import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Metrics, MetricName } from '../../src/ops/metrics.js';

describe('metrics', () => {
  test('the PubAck latency histogram exposes cumulative buckets, sum and count like a Prometheus histogram', async () => {
    const m = new Metrics();
    for (const v of [0.0002, 0.0008, 0.0008, 0.003, 42]) m.pubAckLatency.observe(v);
    const text = await m.registry.metrics();
    const line = (suffix: string) =>
      text.split('\n').find((l) => l.startsWith(`${MetricName.pubAckLatency}${suffix}`));
    assert.equal(line('_bucket{le="0.0005"}'), `${MetricName.pubAckLatency}_bucket{le="0.0005"} 1`);
    assert.equal(line('_bucket{le="0.001"}'), `${MetricName.pubAckLatency}_bucket{le="0.001"} 3`);
    assert.equal(line('_bucket{le="0.005"}'), `${MetricName.pubAckLatency}_bucket{le="0.005"} 4`);
    assert.equal(line('_bucket{le="30"}'), `${MetricName.pubAckLatency}_bucket{le="30"} 4`);
    assert.equal(line('_bucket{le="+Inf"}'), `${MetricName.pubAckLatency}_bucket{le="+Inf"} 5`);
    assert.equal(line('_count'), `${MetricName.pubAckLatency}_count 5`);
    assert.match(line('_sum') ?? '', /_sum 42\.0048/);
    assert.match(text, new RegExp(`# TYPE ${MetricName.pubAckLatency} histogram`));
  });

  test('row counters are collected per table and action at scrape time', async () => {
    const m = new Metrics();
    const users = {};
    for (let i = 0; i < 3; i++) m.rowPublished(users, 'public', 'users', 'INSERT');
    m.rowPublished(users, 'public', 'users', 'DELETE');
    m.filteredCount = 7;
    const first = await m.registry.metrics();
    assert.match(
      first,
      /pgwalstreams_events_published_total\{schema="public",table="users",action="insert"\} 3/,
    );
    assert.match(
      first,
      /pgwalstreams_events_published_total\{schema="public",table="users",action="delete"\} 1/,
    );
    assert.match(first, /pgwalstreams_events_filtered_total 7/);
    m.rowPublished(users, 'public', 'users', 'INSERT');
    const second = await m.registry.metrics();
    assert.match(second, /action="insert"\} 4/, 'counts keep growing across scrapes');
  });
});

/**
 * The chaos suite's command line: which passes a run is made of (single-server and cluster), with
 * which windows, durations and fault kinds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { passesFromArgs } from '../chaos/args.js';
import { CLUSTER_FAULTS, SINGLE_NODE_FAULTS } from '../chaos/faults.js';

/** The parts of each pass the tests look at. */
function shape(argv: string[]) {
  return passesFromArgs([...argv, '--seed', '7']).map((p) => ({
    cluster: p.cluster,
    durationS: p.durationS,
    duplicateWindowMs: p.duplicateWindowMs,
    kinds: [...p.kinds],
  }));
}

describe('chaos suite arguments', () => {
  test('the short form: a single-server pass and a cluster pass, each with a 100 ms window', () => {
    assert.deepEqual(shape([]), [
      { cluster: false, durationS: 30, duplicateWindowMs: 100, kinds: [...SINGLE_NODE_FAULTS] },
      { cluster: true, durationS: 15, duplicateWindowMs: 100, kinds: [...CLUSTER_FAULTS] },
    ]);
    const [first, second] = passesFromArgs(['--seed', '7']);
    assert.deepEqual([first?.seed, second?.seed], [7, 8]);
    assert.match(second?.label ?? '', /^pass 2 \(3-node cluster/);
  });

  test('--duration makes both passes that long; windows given replace both defaults', () => {
    assert.deepEqual(
      shape(['--duration', '600', '--duplicate-window-ms', '100,5000']).map((p) => [
        p.cluster,
        p.durationS,
        p.duplicateWindowMs,
      ]),
      [
        [false, 600, 100],
        [false, 600, 5000],
        [true, 600, 100],
        [true, 600, 5000],
      ],
    );
  });

  test('--cluster and --single keep one kind of pass; --faults keeps each pass to its kinds', () => {
    assert.deepEqual(
      shape(['--cluster']).map((p) => p.cluster),
      [true],
    );
    assert.deepEqual(
      shape(['--single']).map((p) => p.cluster),
      [false],
    );
    assert.deepEqual(
      shape(['--faults', 'leader-kill,pg-cut']).map((p) => [p.cluster, p.kinds]),
      [
        [false, ['pg-cut']],
        [true, ['leader-kill']],
      ],
    );
    assert.deepEqual(
      shape(['--faults', 'follower-kill']).map((p) => p.cluster),
      [true],
    );
  });

  test('refusals: no such kind, nothing left to run, both --cluster and --single', () => {
    assert.throws(
      () => passesFromArgs(['--faults', 'cluster-leader-kill']),
      /no fault kind "cluster-leader-kill"/,
    );
    assert.throws(() => passesFromArgs(['--single', '--faults', 'leader-kill']), /no pass has a fault kind/);
    assert.throws(() => passesFromArgs(['--cluster', '--single']), /exclude each other/);
  });
});

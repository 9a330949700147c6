/**
 * The report of a chaos run: per pass, the workload, the faults by kind with their recovery times
 * (median and max), every count the checks make, findings by the fault before them, and examples;
 * for a cluster pass, what each node's replica holds at the end.
 * `failures` is what the exit status is made of: every count that must be zero.
 */
import { FINDING_KINDS, NO_FAULT, type Counts, type FindingKind } from './check.js';
import type { PassResult } from './pass.js';

const LABELS: Record<FindingKind, string> = {
  missing: 'missing changes',
  'duplicate-id': 'duplicated (same event id twice)',
  'duplicate-change': 'duplicated (same change, another id)',
  unexpected: 'unexpected (no committed transaction)',
  'inversion-stream': 'order inversions, whole stream',
  'inversion-subject': 'order inversions, per subject',
  content: 'content mismatches',
};

/** The counts of a pass that must all be zero, by name. */
export function failures(pass: PassResult): Record<string, number> {
  const { check, rebuild } = pass;
  return {
    ...Object.fromEntries(FINDING_KINDS.map((kind) => [LABELS[kind], check.counts[kind]])),
    'rebuilt-table mismatches': rebuild.differ + rebuild.missing + rebuild.extra,
    'rebuild apply conflicts': rebuild.conflicts,
    'faults not recovered from': pass.faults.filter((f) => f.recovery.confirmedMs === undefined).length,
    'pgwalstreams exits not asked for (or unclean)': pass.serviceFailures.length,
    'not caught up at the end': pass.fence.confirmedMs === undefined ? 1 : 0,
    ...(pass.replicas ? { 'replicas behind their leader at the end': replicasBehind(pass) } : {}),
  };
}

/**
 * A cluster pass's replicas that do not hold what their leader holds at the end: acknowledged
 * events kept by fewer nodes than the stream's replicas, which a later change of leader to such a
 * node loses (docs/RELIABILITY.md, "Replicas left behind").
 */
function replicasBehind(pass: PassResult): number {
  const replicas = pass.replicas;
  return replicas ? replicas.nodes.filter((n) => n.lastSeq !== replicas.leaderLastSeq).length : 0;
}

export function formatPass(pass: PassResult): string {
  const { options, ledger, check, rebuild } = pass;
  const lines: string[] = [];
  const add = (line = '') => lines.push(line);
  add(
    `== ${options.label}: ${pass.faultSeconds.toFixed(0)} s of faults, duplicate window ${options.duplicateWindowMs} ms, ack timeout ${options.ackTimeoutMs} ms, seed ${options.seed}`,
  );
  add(
    `workload: ${options.shape.writers} writers; ${ledger.committed} transactions committed (${ledger.largeTransactions} large), ${ledger.changes} row changes with the ledger rows; ${ledger.rolledBack} rolled back`,
  );
  const d = ledger.doubts;
  add(
    `commits in doubt: ${d.atCommit} failed during COMMIT, ${d.beforeCommit} before it; ${d.foundCommitted} of them found committed in the ledger table`,
  );
  add();
  add(
    `faults (${pass.faults.length}); recovery = fault end -> probe stored | -> slot confirmed past it; median / max`,
  );
  add(`  ${'kind'.padEnd(24)}${'n'.padStart(3)}  ${'stored'.padEnd(20)}${'confirmed'.padEnd(20)}`);
  const kinds = [...new Set(pass.faults.map((f) => f.kind))].sort();
  for (const kind of kinds) {
    const of = pass.faults.filter((f) => f.kind === kind);
    const stored = spread(of.map((f) => f.recovery.storedMs));
    const confirmed = spread(of.map((f) => f.recovery.confirmedMs));
    add(`  ${kind.padEnd(24)}${String(of.length).padStart(3)}  ${stored.padEnd(20)}${confirmed.padEnd(20)}`);
  }
  const quiet = pass.baselines;
  add(
    `  ${'(no fault: probe alone)'.padEnd(24)}${String(quiet.length).padStart(3)}  ${spread(quiet.map((b) => b.storedMs)).padEnd(20)}${spread(quiet.map((b) => b.confirmedMs))}`,
  );
  add();
  add(
    `stream: ${check.eventsRead} events read; ${check.changesExpected} committed changes in ${check.transactionsExpected} transactions checked`,
  );
  add(`  ${'late events (after a later commit)'.padEnd(48)}${check.lateEvents}`);
  add(`  ${'transactions with no event at all'.padEnd(48)}${check.transactionsMissing}`);
  add(
    `rebuilt tables: ${rebuild.rowsCompared} rows compared; ${rebuild.differ} differ, ${rebuild.missing} missing, ${rebuild.extra} extra`,
  );
  if (pass.replicas) {
    const { leaderLastSeq, nodes } = pass.replicas;
    const replica = (n: (typeof nodes)[number]) =>
      `${n.node} ${n.lastSeq ?? 'no answer'}` +
      (n.leader
        ? ' (leader)'
        : n.lastSeq === undefined
          ? ''
          : n.lastSeq < leaderLastSeq
            ? ` (${leaderLastSeq - n.lastSeq} behind)`
            : '');
    add(`replicas at the end (last sequence of each node's own store): ${nodes.map(replica).join(', ')}`);
  }
  add();
  for (const [name, count] of Object.entries(failures(pass))) add(`  ${name.padEnd(48)}${count}`);
  const byFault = [...check.byFault].filter(([, counts]) => total(counts) > 0);
  if (byFault.length > 0) {
    add();
    add('findings by the fault that began last before them:');
    for (const [fault, counts] of byFault.sort(([a], [b]) =>
      a === NO_FAULT ? -1 : b === NO_FAULT ? 1 : a.localeCompare(b),
    ))
      add(
        `  ${fault.padEnd(24)}${FINDING_KINDS.filter((k) => counts[k] > 0)
          .map((k) => `${LABELS[k]} ${counts[k]}`)
          .join('; ')}`,
      );
  }
  const examples = [...check.examples].filter(([, texts]) => texts.length > 0);
  if (examples.length > 0 || rebuild.examples.length > 0) {
    add();
    add('examples:');
    for (const [kind, texts] of examples) for (const text of texts) add(`  ${kind}: ${text}`);
    for (const text of rebuild.examples) add(`  rebuild: ${text}`);
  }
  for (const failure of pass.serviceFailures)
    add(`  pgwalstreams ${failure.what}: ${JSON.stringify(failure.exit)}\n${failure.tail}`);
  add(pass.logDir ? `service logs: ${pass.logDir}` : 'service logs: removed (a clean pass)');
  return lines.map((line) => line.trimEnd()).join('\n');
}

/** True when every count of the pass is zero. */
export function clean(pass: PassResult): boolean {
  return Object.values(failures(pass)).every((n) => n === 0);
}

/** The run's verdict over every pass. */
export function formatVerdict(passes: PassResult[]): { text: string; failed: boolean } {
  const bad = passes.flatMap((pass) =>
    Object.entries(failures(pass))
      .filter(([, n]) => n > 0)
      .map(([name, n]) => `${pass.options.label}: ${name} ${n}`),
  );
  return bad.length === 0
    ? { text: 'RESULT: PASS (every count is zero)', failed: false }
    : { text: `RESULT: FAIL\n  ${bad.join('\n  ')}`, failed: true };
}

/** "median / max" of recovery times in seconds; a time that never came counts as "never". */
function spread(values: (number | undefined)[]): string {
  const missing = values.filter((v) => v === undefined).length;
  const sorted = values.filter((v): v is number => v !== undefined).sort((a, b) => a - b);
  if (sorted.length === 0) return 'never';
  const median =
    sorted.length % 2 === 1
      ? sorted[(sorted.length - 1) / 2]!
      : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  const text = `${seconds(median)} / ${seconds(sorted.at(-1)!)}`;
  return missing > 0 ? `${text} (+${missing} never)` : text;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function total(counts: Counts): number {
  return FINDING_KINDS.reduce((sum, kind) => sum + counts[kind], 0);
}

/**
 * Compares builds of pgwalstreams on the same work: each drains a backlog of the bench's large
 * transactions (or, with `--set small`, its small ones) into its own stream, the builds taking turns, and the CPU per
 * row of pgwalstreams, nats-server and the walsender is printed for every run, then the medians.
 *
 * On a shared or virtual machine one run of a build can be 20 % slower than the next; taking turns
 * and reading medians is what makes two builds comparable.
 *
 *   npm run bench:compare -- <dist dir> <dist dir> … [--rows N] [--runs N] [--set large|small]
 *
 * A dist dir is the `dist` of a built checkout (`npm ci && npm run build`), for example this one
 * (`dist`) and a worktree of another commit.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { serviceConfig } from '../test/integration/harness/scenario.js';
import { wholeNumber } from './args.js';
import { CpuWatch } from './cpu.js';
import {
  createPhaseStream,
  deleteStream,
  dropSlot,
  phaseNames,
  startBenchServers,
  waitForStream,
  walsenderPid,
} from './servers.js';
import { median } from './stats.js';
import { LARGE_TRANSACTION_ROWS } from './throughput.js';
import { ChangeSet } from './workload.js';

const USAGE =
  'usage: npm run bench:compare -- <dist dir> <dist dir> … [--rows N] [--runs N] [--set large|small]';

interface Run {
  rowsPerSecond: number;
  /** µs of CPU per row. */
  pgwalstreams: number;
  natsServer: number;
  walsender: number;
}

function parse(argv: string[]): { builds: string[]; rows: number; runs: number; set: 'large' | 'small' } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { rows: { type: 'string' }, runs: { type: 'string' }, set: { type: 'string' } },
  });
  const builds = positionals.map((dir) => {
    if (!existsSync(join(resolve(dir), 'src', 'main.js')))
      throw new Error(`${dir}: no src/main.js in it; give the dist dir of a built checkout\n${USAGE}`);
    return resolve(dir);
  });
  if (builds.length < 1) throw new Error(USAGE);
  const set = values.set ?? 'large';
  if (set !== 'large' && set !== 'small') throw new Error(`--set ${set}: expected large or small\n${USAGE}`);
  return {
    builds,
    set,
    rows: wholeNumber('rows', values.rows, 300_000, USAGE),
    runs: wholeNumber('runs', values.runs, 4, USAGE),
  };
}

async function main(): Promise<void> {
  const { builds, rows, runs, set } = parse(process.argv.slice(2));
  const s = await startBenchServers();
  const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-compare-'));
  const results = new Map<string, Run[]>(builds.map((b) => [b, []]));
  let k = 0;
  try {
    for (let round = 0; round < runs; round++) {
      // Alternate the order, so that neither build always runs first.
      for (const build of round % 2 === 0 ? builds : [...builds].reverse()) {
        const names = phaseNames(`compare${k++}`);
        const changes = new ChangeSet(names.table, rows);
        await changes.create(s.sql);
        await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
        await s.sql.query("SELECT pg_create_logical_replication_slot($1, 'pgoutput')", [names.slot]);
        await createPhaseStream(s, names);
        const configFile = join(dir, `${names.slot}.yml`);
        writeFileSync(configFile, stringify(serviceConfig(s, names, { listener: { serverPort: 0 } })));
        if (set === 'large') await changes.writeLarge(s.sql, LARGE_TRANSACTION_ROWS);
        else await changes.writeSmall(s.sql);

        const nats = new CpuWatch(s.nats.pid!);
        const t0 = performance.now();
        const child = spawn(join(build, 'src', 'main.js'), ['--config', configFile], {
          stdio: ['ignore', 'ignore', 'inherit'],
        });
        const exited = new Promise((r) => child.once('exit', r));
        let gone = false;
        void exited.then(() => (gone = true));
        const service = new CpuWatch(child.pid!, { bornInside: true });
        const walsender = new CpuWatch(await walsenderPid(s, names.slot), { bornInside: true });
        const t1 = await waitForStream(s, names.stream, rows, {
          timeoutMs: 120_000 + rows / 2,
          stillRunning: () => (gone ? 'pgwalstreams exited during the drain' : undefined),
        });
        const run: Run = {
          rowsPerSecond: rows / ((t1 - t0) / 1000),
          pgwalstreams: (service.stop() * 1e6) / rows,
          natsServer: (nats.stop() * 1e6) / rows,
          walsender: (walsender.stop() * 1e6) / rows,
        };
        results.get(build)!.push(run);
        console.log(
          `${build}: ${Math.round(run.rowsPerSecond)} rows/s; µs CPU per row: pgwalstreams ${run.pgwalstreams.toFixed(2)}, ` +
            `nats-server ${run.natsServer.toFixed(2)}, walsender ${run.walsender.toFixed(2)}`,
        );
        child.kill('SIGTERM');
        await exited;
        await dropSlot(s, names.slot);
        await deleteStream(s, names.stream);
        await s.sql.query(`DROP PUBLICATION ${names.publication}`);
        await s.sql.query(`DROP TABLE ${names.table}`);
      }
    }
    const shape = set === 'large' ? `transactions of ${LARGE_TRANSACTION_ROWS}` : 'small transactions';
    console.log(`\nmedians of ${runs} runs of ${rows} rows in ${shape}:`);
    for (const [build, rs] of results) {
      console.log(
        `${build}: ${Math.round(median(rs.map((r) => r.rowsPerSecond)))} rows/s; µs CPU per row: ` +
          `pgwalstreams ${median(rs.map((r) => r.pgwalstreams)).toFixed(2)}, ` +
          `nats-server ${median(rs.map((r) => r.natsServer)).toFixed(2)}, ` +
          `walsender ${median(rs.map((r) => r.walsender)).toFixed(2)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await s.dispose();
  }
}

main().catch((error: unknown) => {
  console.error('bench:compare failed:', error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

/**
 * Start-up: how long the short commands take (`--version`, `--help`, `config check`), wall time
 * and CPU as bash's `time` reports them, and how long the service takes from its spawn until the
 * first change waiting in its slot is stored, with the CPU it used until then. Each is run
 * `RUNS` times and the medians are kept.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { streamCount } from '../test/integration/harness/jetstream.js';
import { serviceConfig, startService } from '../test/integration/harness/scenario.js';
import { ServiceProcess } from '../test/integration/harness/service.js';
import { waitFor } from '../test/integration/harness/wait.js';
import { CpuWatch } from './cpu.js';
import { createPhaseStream, deleteStream, dropSlot, phaseNames, type BenchServers } from './servers.js';
import { median } from './stats.js';
import { createTable, insertRows } from './workload.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
const RUNS = 5;

/** Wall and CPU seconds of one start. */
export interface StartFigure {
  seconds: number;
  cpuSeconds: number;
}

export interface StartupResult {
  version: StartFigure;
  help: StartFigure;
  configCheck: StartFigure;
  /** Spawn → the first change waiting in the slot stored. */
  firstEvent: StartFigure;
}

const run = promisify(execFile);

/** One command under bash's `time`: real, user and system seconds. */
async function timed(args: string[]): Promise<StartFigure> {
  const quoted = args.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const { stderr } = await run('bash', ['-c', `TIMEFORMAT='%R %U %S'; time ${quoted} >/dev/null`], {
    env: { PATH: process.env['PATH'] ?? '' },
  });
  const [real, user, sys] = stderr.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { seconds: real!, cpuSeconds: user! + sys! };
}

const medianOf = (xs: StartFigure[]): StartFigure => ({
  seconds: median(xs.map((x) => x.seconds)),
  cpuSeconds: median(xs.map((x) => x.cpuSeconds)),
});

async function repeat(work: () => Promise<StartFigure>): Promise<StartFigure> {
  const figures: StartFigure[] = [];
  for (let i = 0; i < RUNS; i++) figures.push(await work());
  return medianOf(figures);
}

export async function startup(s: BenchServers): Promise<StartupResult> {
  const names = phaseNames('startup');
  await createTable(s.sql, names.table);
  await s.sql.query(`CREATE PUBLICATION ${names.publication} FOR TABLE ${names.table}`);
  await createPhaseStream(s, names);
  const config = serviceConfig(s, names, { listener: { serverPort: 0 } });
  const file = join(mkdtempSync(join(tmpdir(), 'pgwalstreams-bench-startup-')), 'config.yml');
  writeFileSync(file, stringify(config));
  try {
    const version = await repeat(() => timed([MAIN, '--version']));
    const help = await repeat(() => timed([MAIN, '--help']));
    const configCheck = await repeat(() => timed([MAIN, 'config', 'check', file]));
    // The slot exists (made by a first start); each run finds one change waiting in it.
    await (await startService(config)).dispose();
    let stored = 0;
    const firstEvent = await repeat(async () => {
      await insertRows(s.sql, names.table, stored + 1, 1);
      const t0 = performance.now();
      const service = ServiceProcess.start(config);
      const cpu = new CpuWatch(service.pid, { bornInside: true });
      try {
        await waitFor(async () => (await streamCount(s.nc, names.stream)) > stored, {
          what: 'the first event stored',
          timeoutMs: 30_000,
          intervalMs: 5,
        });
        const figure = { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpu.stop() };
        stored++;
        return figure;
      } finally {
        await service.dispose();
      }
    });
    return { version, help, configCheck, firstEvent };
  } finally {
    await dropSlot(s, names.slot);
    await deleteStream(s, names.stream);
    await s.sql.query(`DROP PUBLICATION ${names.publication}`);
    await s.sql.query(`DROP TABLE ${names.table}`);
  }
}

/**
 * `npm run bench:startup`: the bench's start-up phase alone (phase 7 of `npm run bench`), on its
 * own PostgreSQL and nats-server started as the bench starts them: `--version`, `--help`,
 * `config check` and the service's spawn → first event stored, each the median of 5 runs, and
 * that `--rounds` times (default 3), one line a round, so that a noisy round shows.
 *
 * Usage: node dist/bench/startup-run.js [--rounds N]
 */
import { parseArgs } from 'node:util';
import { wholeNumber } from './args.js';
import { fixed } from './report.js';
import { startBenchServers } from './servers.js';
import { startup, type StartFigure } from './startup.js';

const USAGE = 'usage: npm run bench:startup -- [--rounds N]';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, help: { type: 'boolean' } } });
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const rounds = wholeNumber('rounds', values.rounds, 3, USAGE);
const figure = (f: StartFigure): string =>
  `${fixed(f.seconds * 1000, 0)} ms, ${fixed(f.cpuSeconds, 3)} s CPU`;

const s = await startBenchServers();
try {
  for (let i = 1; i <= rounds; i++) {
    const r = await startup(s);
    console.log(
      `round ${i}: --version ${figure(r.version)}; --help ${figure(r.help)}; ` +
        `config check ${figure(r.configCheck)}; spawn → first event stored ${figure(r.firstEvent)}`,
    );
  }
  console.log(
    'targets: --version and --help < 150 ms, config check < 400 ms, first event < 300 ms and CPU < 0.15 s',
  );
} finally {
  await s.dispose();
}

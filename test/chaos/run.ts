/**
 * `npm run test:chaos`: the fault-injection suite. Runs the passes the arguments ask for (see
 * args.ts), prints each pass's report, and exits 0 when every count is zero, 1 when any is not,
 * and 2 when the suite itself could not run (a server that would not start, a writer's SQL that
 * failed for a reason other than a connection). Progress goes to standard error, the report to
 * standard output. docs/RELIABILITY.md describes the design and the figures of past runs.
 */
import { rmSync } from 'node:fs';
import { passesFromArgs } from './args.js';
import { runPass, type PassResult } from './pass.js';
import { clean, formatPass, formatVerdict } from './report.js';

async function main(): Promise<number> {
  let passes;
  try {
    passes = passesFromArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const began = Date.now();
  const progress = (line: string) =>
    process.stderr.write(`[${((Date.now() - began) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
  const results: PassResult[] = [];
  for (const options of passes) {
    const result = await runPass(options, progress);
    if (clean(result) && result.logDir) {
      rmSync(result.logDir, { recursive: true, force: true });
      result.logDir = undefined;
    }
    results.push(result);
    process.stdout.write(`${formatPass(result)}\n\n`);
  }
  const verdict = formatVerdict(results);
  process.stdout.write(`${verdict.text}\n(${((Date.now() - began) / 1000).toFixed(0)} s in all)\n`);
  return verdict.failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos suite could not run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);

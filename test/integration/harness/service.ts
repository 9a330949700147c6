/**
 * Runs pgwalstreams as a real child process (`node dist/src/main.js --config …`), the way users
 * run it, so tests can send it signals, kill -9 it and read its peak memory. Its log lines are
 * kept in memory and in a file; nothing reaches the test output.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { onProcessExit } from './exit-hook.js';
import { waitFor } from './wait.js';

const MAIN = fileURLToPath(new URL('../../../src/main.js', import.meta.url));

/** The client name the service connects to NATS with (`commands/run.ts`), as nats-server's connz lists it. */
export const SERVICE_CLIENT_NAME = 'pgwalstreams';

/** One parsed JSON log line of the service. */
export interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** How the process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running (or ended) pgwalstreams process. */
export class ServiceProcess {
  private stdout = '';
  private stderr = '';
  private readonly lines: LogLine[] = [];
  /** Resolves when the process has ended. */
  readonly exited: Promise<Exit>;
  private ended: Exit | null = null;
  private readonly unregister: () => void;

  private constructor(
    private readonly child: ChildProcess,
    /** The temp dir with the config file and the log. */
    readonly dir: string,
  ) {
    const logFile = join(dir, 'service.log');
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      appendFileSync(logFile, chunk);
      this.stdout += chunk;
      let nl: number;
      while ((nl = this.stdout.indexOf('\n')) >= 0) {
        const line = this.stdout.slice(0, nl);
        this.stdout = this.stdout.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          this.lines.push({ level: 0, msg: line });
        }
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      appendFileSync(logFile, chunk);
      this.stderr += chunk;
    });
    this.unregister = onProcessExit(() => child.kill('SIGKILL'));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.ended = { code, signal };
        this.unregister();
        resolve(this.ended);
      }),
    );
  }

  /**
   * Writes `config` as YAML into a new temp dir and starts the service on it; with `configFile`,
   * starts it on that file instead (and `config` is not used). `command` runs instead of the
   * binary when given (a program and its first arguments).
   */
  static start(
    config: Record<string, unknown>,
    env: Record<string, string> = {},
    configFile?: string,
    command: readonly string[] = [MAIN],
  ): ServiceProcess {
    const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-service-'));
    if (configFile === undefined) {
      configFile = join(dir, 'config.yml');
      writeFileSync(configFile, stringify(config));
    }
    // The binary itself, as users run it: its shebang carries the Node.js flags it needs.
    const child = spawn(command[0]!, [...command.slice(1), '--config', configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    return new ServiceProcess(child, dir);
  }

  /** The process id. */
  get pid(): number {
    return this.child.pid!;
  }

  /** Parsed log lines so far. */
  get logs(): readonly LogLine[] {
    return this.lines;
  }

  /** Everything written to standard error so far. */
  get errorOutput(): string {
    return this.stderr;
  }

  /** Waits for a log line whose `msg` matches, and returns it. */
  async waitForLog(msg: string | RegExp, timeoutMs = 20_000): Promise<LogLine> {
    const matches = (l: LogLine) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg));
    return waitFor(
      () => {
        const line = this.lines.find(matches);
        if (line) return line;
        if (this.ended)
          throw new Error(
            `service exited (${JSON.stringify(this.ended)}) before logging ${msg}:\n${this.tail()}`,
          );
        return undefined;
      },
      { what: `service log ${String(msg)}`, timeoutMs },
    );
  }

  /** Peak resident memory of the live process in bytes (VmHWM). */
  peakRssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
    if (!kb) throw new Error('VmHWM not found in /proc status');
    return Number(kb) * 1024;
  }

  /** Sends a signal. */
  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    this.child.kill(signal);
  }

  /** Stops with SIGTERM (SIGKILL after `timeoutMs`) and removes the temp dir. */
  async dispose(timeoutMs = 15_000): Promise<Exit> {
    if (!this.ended) {
      this.kill('SIGTERM');
      const timer = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
    return this.ended!;
  }

  /** The last log lines and standard error, for failure messages. */
  tail(lines = 20): string {
    return this.lines
      .slice(-lines)
      .map((l) => JSON.stringify(l))
      .concat(this.stderr ? [this.stderr] : [])
      .join('\n');
  }
}

/** Runs a pgwalstreams command to its end, with a clean environment plus `env`. */
export async function runPgwalstreams(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(MAIN, args, {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    return { status: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { status: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

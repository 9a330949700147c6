/**
 * A throwaway nats-server with JetStream for integration tests: file storage in a fresh temp dir,
 * listening on 127.0.0.1 on a free port, its output in a log file in that dir.
 *
 * `stop()` and `kill9()` keep the port and the store, so `start()` brings back the same server
 * with the streams and messages it had persisted: that is how tests check what survives a restart
 * or a crash of the broker.
 *
 * The process handling (spawning, readiness, stopping, crashing, pausing, cleanup at exit) is
 * {@link NatsProcess}, which nats-cluster.ts reuses for the nodes of a cluster.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import { onProcessExit } from './exit-hook.js';
import { logTail } from './log-tail.js';
import { freePort, waitFor } from './wait.js';

/** How to start the server; everything has a default that suits the integration tests. */
export interface NatsOptions {
  /** Path of the nats-server binary; found automatically when omitted. */
  binary?: string;
  /** Extra command-line arguments for nats-server. */
  args?: string[];
  /** How long to wait for JetStream to answer after a start; default 10 000 ms. */
  startTimeoutMs?: number;
  /**
   * Client options for the readiness check, for a server that `args` configure with TLS or
   * authentication (`tls`, `user`, `pass`, …); the servers, timeouts and reconnects are the harness's.
   */
  connectOptions?: NodeConnectionOptions;
}

/** A running (or stopped) nats-server and the means to crash, pause, restart and remove it. */
export interface NatsServer {
  /** Client URL, e.g. `nats://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** The JetStream store directory (nats-server keeps its data in `jetstream/` under it). */
  readonly storeDir: string;
  /** The server's stdout and stderr; read it when a test fails. */
  readonly logFile: string;
  /** True between a successful `start()` and `stop()`, `kill9()` or `dispose()`, paused or not. */
  readonly running: boolean;
  /** True between `pause()` and `resume()` (or the end of the process). */
  readonly paused: boolean;
  /** The server's process id while it runs (to read its CPU time from /proc), else undefined. */
  readonly pid: number | undefined;
  /** Starts the server again on the same port and store; does nothing if it runs. */
  start(): Promise<void>;
  /** Stops the server with SIGTERM (a clean shutdown) and keeps its store; does nothing if it is stopped. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would, and waits until it is gone. */
  kill9(): Promise<void>;
  /**
   * Freezes the server with SIGSTOP, as a hung machine or a long GC pause would: its sockets stay
   * open but nothing is answered. Does nothing if it is stopped or already paused.
   */
  pause(): void;
  /** Lets a paused server go on with SIGCONT; does nothing if it is not paused. */
  resume(): void;
  /** Stops the server and deletes its temp dir. */
  dispose(): Promise<void>;
}

export const HOST = '127.0.0.1';
/** How many times a first start is tried when the ports picked were taken in the meantime. */
export const PORT_ATTEMPTS = 3;
const STOP_TIMEOUT_MS = 10_000;

/** Starts a new nats-server with JetStream in a temp dir; the caller must `dispose()` it. */
export async function startNats(options: NatsOptions = {}): Promise<NatsServer> {
  const binary = options.binary ?? findNatsServer();
  const root = await mkdtemp(join(tmpdir(), 'pgwalstreams-nats-'));
  const server = new Broker(binary, root, options);
  try {
    await retryOnPortClash(async () => {
      server.port = await freePort();
      await server.start();
    }, [server]);
    return server;
  } catch (error) {
    await server.dispose().catch(() => undefined);
    throw error;
  }
}

/**
 * Runs a first `start` (which picks its ports with `freePort()` and starts the servers), again
 * when it fails because a port was taken by someone else between `freePort()` and the bind: one of
 * `servers`' logs says "address already in use". `start` must pick new ports each time and leave
 * no server running when it throws.
 */
export async function retryOnPortClash(
  start: () => Promise<void>,
  servers: readonly Pick<NatsServer, 'logFile'>[],
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      return;
    } catch (error) {
      const clash = servers.some((server) => /address already in use/i.test(logTail(server.logFile)));
      if (attempt >= PORT_ATTEMPTS || !clash) throw error;
    }
  }
}

/**
 * One nats-server process: a store dir and a log file in its temp dir, a child process that a
 * test may start, stop, kill, pause and start again, and an exit hook that kills it and removes the
 * temp dir if the test process ends without `dispose()`. What the server listens on is the
 * owner's business (`args`); `port` and `url` are the client port the owner chose.
 */
export abstract class NatsProcess implements NatsServer {
  readonly storeDir: string;
  readonly logFile: string;
  port = 0;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private disposed = false;
  private frozen = false;
  private readonly unregisterExitHook: () => void;

  /**
   * `root` is the server's own temp dir (store and log go there; `dispose()` deletes it);
   * `startTimeoutMs` is how long `ready()` may take to say true after a start.
   */
  constructor(
    private readonly binary: string,
    private readonly root: string,
    private readonly startTimeoutMs: number,
  ) {
    this.storeDir = join(root, 'store');
    this.logFile = join(root, 'nats-server.log');
    this.unregisterExitHook = onProcessExit(() => {
      try {
        this.child?.kill('SIGKILL');
      } finally {
        rmSync(this.root, { recursive: true, force: true });
      }
    });
  }

  /** The command-line arguments of the next start (called at each start). */
  protected abstract args(): string[];

  /**
   * The readiness check after a start, called until it returns true; undefined means "not yet"
   * (it must catch errors of a server that is still starting and say "not yet" too).
   */
  protected abstract ready(): Promise<true | undefined>;

  get url(): string {
    return `nats://${HOST}:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get paused(): boolean {
    return this.child !== undefined && this.frozen;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    // A test cancelled by the runner keeps running in the background; it must not bring back a
    // server after `after()` disposed it, where no exit hook would stop it any more.
    if (this.disposed) throw new Error('nats-server was disposed');
    if (this.child) return;
    const log = openSync(this.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, this.args(), { stdio: ['ignore', log, log] });
    } finally {
      closeSync(log);
    }
    // Unreferenced: a test that forgets dispose() still ends, and the exit hook kills the server.
    child.unref();
    this.child = child;
    this.frozen = false;
    const died = new AbortController();
    this.exited = new Promise((resolve) => {
      const onGone = (reason: string): void => {
        if (this.child === child) this.child = undefined;
        died.abort(new Error(`nats-server ${reason}; log tail:\n${logTail(this.logFile)}`));
        resolve();
      };
      child.once('error', (error) => onGone(`could not be run (${error.message})`));
      child.once('exit', (code, signal) => onGone(`exited (${signal ?? `code ${code}`})`));
    });
    try {
      await waitFor(() => this.ready(), {
        what: `JetStream on ${this.url}`,
        timeoutMs: this.startTimeoutMs,
        intervalMs: 25,
        signal: died.signal,
      });
    } catch (error) {
      const failure: unknown = died.signal.aborted
        ? died.signal.reason
        : new Error(`nats-server did not get ready; log tail:\n${logTail(this.logFile)}`, { cause: error });
      await this.kill9();
      throw failure;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.ref(); // Keeps the event loop alive until the exit event arrives.
    child.kill('SIGTERM');
    this.resume(); // A paused server gets the SIGTERM only once it runs again.
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill9(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.ref();
    child.kill('SIGKILL');
    await this.exited;
  }

  pause(): void {
    if (!this.child || this.frozen) return;
    this.child.kill('SIGSTOP');
    this.frozen = true;
  }

  resume(): void {
    if (!this.child || !this.frozen) return;
    this.child.kill('SIGCONT');
    this.frozen = false;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    try {
      await this.stop();
    } finally {
      this.unregisterExitHook();
      await rm(this.root, { recursive: true, force: true });
    }
  }
}

/** The single server: JetStream, its store and client port on the command line, plus `options.args`. */
class Broker extends NatsProcess {
  constructor(
    binary: string,
    root: string,
    private readonly options: NatsOptions,
  ) {
    super(binary, root, options.startTimeoutMs ?? 10_000);
  }

  protected args(): string[] {
    const listen = ['-a', HOST, '-p', String(this.port)];
    return ['-js', '-sd', this.storeDir, ...listen, ...(this.options.args ?? [])];
  }

  protected ready(): Promise<true | undefined> {
    return jetStreamAnswers(this.url, this.options.connectOptions);
  }
}

/**
 * True once the server accepts a client and JetStream answers `$JS.API.INFO` for the default
 * account; undefined while it does not yet (connection refused, no responders, or an error reply,
 * such as a cluster node's while JetStream has no meta leader).
 */
export async function jetStreamAnswers(
  url: string,
  options: NodeConnectionOptions = {},
): Promise<true | undefined> {
  let nc;
  try {
    nc = await connect({ ...options, servers: url, reconnect: false, timeout: 1000 });
    const reply = await nc.request('$JS.API.INFO', undefined, { timeout: 1000 });
    const info = reply.json<{ error?: unknown }>();
    return info.error === undefined ? true : undefined;
  } catch {
    return undefined;
  } finally {
    await nc?.close().catch(() => undefined);
  }
}

/** `PGWALSTREAMS_NATS_SERVER`, else `nats-server` on the PATH or in the sbin dirs a Debian package uses. */
export function findNatsServer(): string {
  const fromEnv = process.env['PGWALSTREAMS_NATS_SERVER'];
  if (fromEnv) return fromEnv;
  const dirs = [
    ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean),
    '/usr/sbin',
    '/usr/local/bin',
  ];
  const found = dirs.map((dir) => join(dir, 'nats-server')).find((path) => existsSync(path));
  if (!found) {
    throw new Error('nats-server not found; run scripts/ensure-deps.sh or set PGWALSTREAMS_NATS_SERVER');
  }
  return found;
}

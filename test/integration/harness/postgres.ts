/**
 * A throwaway PostgreSQL cluster for integration tests: initdb into a fresh temp dir, configured
 * for logical replication, listening on 127.0.0.1 on a free port, logging to a file in its dir.
 *
 * Durability is traded for speed (`fsync` and `full_page_writes` are off): the cluster survives
 * `stop()`, `kill9()` of its processes and `start()` again, because the operating system keeps the
 * written pages, but it would not survive a machine crash. Tests never need that.
 *
 * `synchronous_commit` stays on: with `fsync` off it costs nothing, and turning it off would delay
 * every change seen by logical decoding by up to three `wal_writer_delay`s (about 200 ms measured),
 * because decoding only reads WAL that has been flushed. A test could then not read a change right
 * after its INSERT returned.
 *
 * PostgreSQL refuses to run as root, so when the tests run as root the server binaries run as the
 * `postgres` OS user (created by the Debian package) and the temp dir belongs to that user.
 *
 * For TLS tests, `files` puts certificates and keys into the data dir (owned by the server's OS
 * user, mode 0600, as PostgreSQL wants its key), `hba` replaces pg_hba.conf, and `clientSsl` is
 * what the harness's own connections (`query`) use.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { onProcessExit } from './exit-hook.js';
import { logTail } from './log-tail.js';
import { freePort, waitFor } from './wait.js';

const execFileAsync = promisify(execFile);

/** How to start the cluster; everything has a default that suits the integration tests. */
export interface PostgresOptions {
  /** Directory holding `initdb`, `pg_ctl` and `postgres`; found automatically when omitted. */
  binDir?: string;
  /** Extra `postgresql.conf` settings; they override the harness defaults. */
  settings?: Record<string, string | number | boolean>;
  /** How long `pg_ctl` may wait for the server to accept connections; default 30 000 ms. */
  startTimeoutMs?: number;
  /**
   * Files to write into the data dir before the first start, by name (`server.key` → PEM text);
   * settings name them by that relative path (`ssl_key_file: 'server.key'`).
   */
  files?: Record<string, string>;
  /** The lines of pg_hba.conf, replacing the `trust` rules initdb writes. */
  hba?: string[];
  /** TLS for the harness's own connections (`query`, `createDatabase`); default none. */
  clientSsl?: ConnectionOptions;
}

/** A running (or stopped) test cluster and the means to crash, restart and remove it. */
export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  /** The superuser, `postgres`; authentication is `trust`. */
  readonly user: string;
  /** The default database, `postgres`. */
  readonly database: string;
  /** Connection string for {@link database}, e.g. `postgresql://postgres@127.0.0.1:41234/postgres`. */
  readonly connectionString: string;
  /** The cluster's data directory (inside the temp dir). */
  readonly dataDir: string;
  /** The server log; read it when a test fails. */
  readonly logFile: string;
  /** The directory of the binaries used. */
  readonly binDir: string;
  /** True between a successful `start()` and `stop()`, `kill9()` or `dispose()`. */
  readonly running: boolean;
  /** Connection string for another database on this server. */
  connectionStringFor(database: string): string;
  /** Runs one statement on a fresh connection to `database` (default `postgres`) and returns the rows. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params?: unknown[],
    database?: string,
  ): Promise<R[]>;
  /** Creates a database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Starts the server again on the same port and data; does nothing if it runs. */
  start(): Promise<void>;
  /** Stops the server cleanly (fast shutdown) and keeps its data; does nothing if it is stopped. */
  stop(): Promise<void>;
  /**
   * Restarts the running server with `pg_ctl restart -m fast`: every client is disconnected (open
   * transactions roll back), the data is kept, and it resolves once the server accepts connections.
   */
  restart(): Promise<void>;
  /** Kills the postmaster and all its children with SIGKILL, as a crash would, and waits until they are gone. */
  kill9(): Promise<void>;
  /** Stops the server and deletes its temp dir. */
  dispose(): Promise<void>;
}

const HOST = '127.0.0.1';
const USER = 'postgres';
const DATABASE = 'postgres';
const PORT_ATTEMPTS = 3;

/** Creates a new cluster in a temp dir and starts it; the caller must `dispose()` it. */
export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const binDir = options.binDir ?? findBinDir();
  const asPostgresUser = process.getuid?.() === 0;
  const root = await mkdtemp(join(tmpdir(), 'pgwalstreams-pg-'));
  const server = new Cluster(binDir, root, asPostgresUser, options);
  try {
    if (asPostgresUser) {
      const { uid, gid } = postgresOsUser();
      await chown(root, uid, gid);
    }
    await server.init();
    await server.startOnFreePort();
    return server;
  } catch (error) {
    await server.dispose().catch(() => undefined);
    throw error;
  }
}

class Cluster implements PostgresServer {
  readonly host = HOST;
  readonly user = USER;
  readonly database = DATABASE;
  readonly dataDir: string;
  readonly logFile: string;
  port = 0;
  running = false;
  private baseConfig = '';
  private disposed = false;
  private readonly unregisterExitHook: () => void;

  constructor(
    readonly binDir: string,
    private readonly root: string,
    private readonly asPostgresUser: boolean,
    private readonly options: PostgresOptions,
  ) {
    this.dataDir = join(root, 'data');
    this.logFile = join(root, 'postgres.log');
    this.unregisterExitHook = onProcessExit(() => {
      try {
        if (this.running) killCluster(this.postmasterPid());
      } finally {
        rmSync(this.root, { recursive: true, force: true });
      }
    });
  }

  get connectionString(): string {
    return this.connectionStringFor(DATABASE);
  }

  connectionStringFor(database: string): string {
    return `postgresql://${USER}@${HOST}:${this.port}/${encodeURIComponent(database)}`;
  }

  async init(): Promise<void> {
    const locale = hasLocale('C.UTF-8') ? ['--locale=C.UTF-8'] : ['--no-locale'];
    // --no-sync: nothing here has to survive a machine crash, and it saves most of initdb's time.
    await this.run('initdb', [
      '-D',
      this.dataDir,
      '-U',
      USER,
      '--auth=trust',
      '-E',
      'UTF8',
      ...locale,
      '--no-sync',
    ]);
    this.baseConfig = await readFile(join(this.dataDir, 'postgresql.conf'), 'utf8');
    const files = { ...this.options.files };
    if (this.options.hba) files['pg_hba.conf'] = `${this.options.hba.join('\n')}\n`;
    const owner = this.asPostgresUser ? postgresOsUser() : undefined;
    for (const [name, text] of Object.entries(files)) {
      const path = join(this.dataDir, name);
      await writeFile(path, text, { mode: 0o600 });
      if (owner) await chown(path, owner.uid, owner.gid);
    }
  }

  /** First start: a port taken by someone else between `freePort()` and the bind is retried with another. */
  async startOnFreePort(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      await this.writeConfig();
      try {
        await this.start();
        return;
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !/address already in use/i.test(logTail(this.logFile))) throw error;
      }
    }
  }

  private async writeConfig(): Promise<void> {
    const settings: Record<string, string | number | boolean> = {
      listen_addresses: HOST,
      port: this.port,
      unix_socket_directories: this.root,
      wal_level: 'logical',
      max_replication_slots: 20,
      max_wal_senders: 20,
      fsync: false,
      full_page_writes: false,
      ...this.options.settings,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${confValue(value)}`);
    const config = `${this.baseConfig}\n# Written by the pgwalstreams test harness.\n${lines.join('\n')}\n`;
    await writeFile(join(this.dataDir, 'postgresql.conf'), config);
  }

  async start(): Promise<void> {
    if (this.running) return;
    await this.pgCtl('start');
  }

  async restart(): Promise<void> {
    if (!this.running) throw new Error('postgres is not running; start() it instead');
    try {
      await this.pgCtl('restart', ['-m', 'fast']);
    } catch (error) {
      // Stopped but not started again, or not stopped at all: the pid file tells which.
      this.running = existsSync(join(this.dataDir, 'postmaster.pid'));
      throw error;
    }
  }

  /** `pg_ctl start` or `restart`, waiting until the server accepts connections. */
  private async pgCtl(action: 'start' | 'restart', extra: string[] = []): Promise<void> {
    // A test cancelled by the runner keeps running in the background; it must not bring back a
    // server after `after()` disposed it, where no exit hook would stop it any more.
    if (this.disposed) throw new Error('postgres was disposed');
    const seconds = Math.ceil((this.options.startTimeoutMs ?? 30_000) / 1000);
    try {
      await this.run('pg_ctl', [
        action,
        ...extra,
        '-w',
        '-t',
        String(seconds),
        '-D',
        this.dataDir,
        '-l',
        this.logFile,
      ]);
    } catch (error) {
      throw new Error(
        `postgres did not ${action} on port ${this.port}; log tail:\n${logTail(this.logFile)}`,
        {
          cause: error,
        },
      );
    }
    this.running = true;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    await this.run('pg_ctl', ['stop', '-w', '-m', 'fast', '-D', this.dataDir]);
    this.running = false;
  }

  async kill9(): Promise<void> {
    if (!this.running) return;
    const pids = killCluster(this.postmasterPid());
    this.running = false;
    await waitFor(() => !pids.some(isAlive), { what: `postgres processes ${pids.join(', ')} to exit` });
    // The dead postmaster may linger as a zombie until init reaps it, and postgres refuses to start
    // while the pid in its lock files answers kill(pid, 0). Every process of the cluster is gone, so
    // the locks are stale: remove them, as a restarted container (a fresh pid namespace) would ignore them.
    await rm(join(this.dataDir, 'postmaster.pid'), { force: true });
    await rm(join(this.root, `.s.PGSQL.${this.port}.lock`), { force: true });
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    try {
      await this.stop();
    } catch {
      await this.kill9();
    } finally {
      this.unregisterExitHook();
      await rm(this.root, { recursive: true, force: true });
    }
  }

  async query<R extends Record<string, unknown> = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    database: string = DATABASE,
  ): Promise<R[]> {
    const client = new pg.Client({
      connectionString: this.connectionStringFor(database),
      ssl: this.options.clientSsl ?? false,
    });
    // A server killed under an open connection makes the client emit 'error'; the query rejects anyway.
    client.on('error', () => undefined);
    await client.connect();
    try {
      const result = await client.query<R>(sql, params);
      return result.rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async createDatabase(name: string): Promise<string> {
    await this.query(`CREATE DATABASE ${quoteIdent(name)}`);
    return this.connectionStringFor(name);
  }

  /** The postmaster's process id, from the first line of `postmaster.pid`. */
  private postmasterPid(): number {
    const text = readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8');
    const pid = Number.parseInt(text.split('\n', 1)[0] ?? '', 10);
    if (!Number.isInteger(pid) || pid <= 0)
      throw new Error(`no process id in ${this.dataDir}/postmaster.pid`);
    return pid;
  }

  /** Runs a PostgreSQL binary, as the `postgres` OS user when we are root, with a clean PG* environment. */
  private async run(program: string, args: string[]): Promise<string> {
    const path = join(this.binDir, program);
    const [file, argv] = this.asPostgresUser
      ? ['runuser', ['-u', 'postgres', '--', path, ...args]]
      : [path, args];
    try {
      const { stdout } = await execFileAsync(file, argv, { cwd: this.root, env: cleanEnv() });
      return stdout;
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new Error(`${program} ${args[0] ?? ''} failed${stderr ? `: ${stderr}` : ''}`, { cause: error });
    }
  }
}

/**
 * The newest PostgreSQL server binaries: `PGWALSTREAMS_PG_BINDIR`, else the highest major under
 * /usr/lib/postgresql (Debian, Ubuntu), else `pg_config --bindir`, else `initdb` on the PATH.
 */
function findBinDir(): string {
  const candidates: string[] = [];
  const fromEnv = process.env['PGWALSTREAMS_PG_BINDIR'];
  if (fromEnv) candidates.push(fromEnv);
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const majors = readdirSync(debianRoot)
      .filter((name) => /^\d+(\.\d+)?$/.test(name))
      .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
    candidates.push(...majors.map((major) => join(debianRoot, major, 'bin')));
  }
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim());
  } catch {
    // pg_config is optional.
  }
  candidates.push(...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean));
  const found = candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')));
  if (!found) {
    throw new Error(
      'no PostgreSQL server binaries (initdb, pg_ctl) found; run scripts/ensure-deps.sh or set PGWALSTREAMS_PG_BINDIR',
    );
  }
  return found;
}

/** Uid and gid of the `postgres` OS user, which runs the server when the tests run as root. */
function postgresOsUser(): { uid: number; gid: number } {
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: 'pipe' }).trim());
    return { uid, gid };
  } catch (error) {
    throw new Error('running as root, but there is no "postgres" OS user to run PostgreSQL as', {
      cause: error,
    });
  }
}

/** True when `locale -a` lists the locale (it spells C.UTF-8 as `C.utf8`). */
function hasLocale(name: string): boolean {
  const normalize = (locale: string): string => locale.toLowerCase().replace(/-/g, '');
  try {
    const listed = execFileSync('locale', ['-a'], { encoding: 'utf8', stdio: 'pipe' }).split('\n');
    return listed.some((locale) => normalize(locale.trim()) === normalize(name));
  } catch {
    return false;
  }
}

/**
 * SIGKILLs the postmaster and its children and returns their ids. The postmaster is first stopped
 * with SIGSTOP so that it cannot fork while its children are listed (once dead, its children would
 * be adopted by init and no longer be found by parent id). Children are killed too because a
 * lingering backend would keep the next start from attaching to shared memory.
 */
function killCluster(postmaster: number): number[] {
  signal(postmaster, 'SIGSTOP');
  const pids = [postmaster, ...childrenOf(postmaster)];
  for (const pid of pids) signal(pid, 'SIGKILL');
  return pids;
}

/** Sends a signal to a process that may already be gone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Ids of the processes whose parent is `parent`, read from /proc (Linux). */
function childrenOf(parent: number): number[] {
  if (!existsSync('/proc')) return [];
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat?.ppid === parent) children.push(Number(entry));
  }
  return children;
}

/** State and parent id from /proc/<pid>/stat; the command name in parentheses may contain spaces. */
function procStat(pid: number): { state: string; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', ppid: Number(fields[1]) };
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie (an unreaped zombie holds no resources). */
function isAlive(pid: number): boolean {
  if (existsSync('/proc')) {
    const stat = procStat(pid);
    return stat !== undefined && stat.state !== 'Z';
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment without PG* variables, so a developer's PGPORT or PGDATA cannot redirect the harness. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('PG')));
}

/** A `postgresql.conf` value: always quoted, which PostgreSQL accepts for every type. */
function confValue(value: string | number | boolean): string {
  const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
  return `'${text.replace(/'/g, "''")}'`;
}

/** An SQL identifier in double quotes. */
function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

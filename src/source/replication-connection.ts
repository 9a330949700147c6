/**
 * Everything that talks to PostgreSQL: start-up checks, publication and slot, and the
 * replication stream itself (`START_REPLICATION … LOGICAL`, CopyBoth).
 *
 * See https://www.postgresql.org/docs/current/protocol-replication.html
 */
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import copyStreams, { type CopyBothQueryStream } from 'pg-copy-streams';
import { isCertificateError, ReplicationError } from '../errors.js';
import { encodeStandbyStatus, pgClock, type StandbyPositions } from './frames.js';
import { formatLsn, parseLsn, type FlushLsn, type Lsn } from './lsn.js';
import type { ExportedSnapshot, ReplicationListener, ReplicationSource } from './replication-source.js';
import { catalogTypeReader, type ReadTypes } from './type-catalog.js';

/** The `ssl` option of a node-postgres client: off, or the options of `tls.connect`. */
export type PgSsl = false | ConnectionOptions;

/** How to reach the database. */
export interface PgSettings {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: string | undefined;
  /** TLS for both connections (see `config/pg-tls.ts`); absent or false: none. */
  ssl?: PgSsl | undefined;
}

/** The slot and publication the pipeline reads through. */
export interface SlotSettings {
  slot: string;
  publication: string;
}

/** What `prepare` found or made. */
export interface PreparedSlot {
  /** `server_version_num`, e.g. 150004. */
  serverVersion: number;
  /** The slot's confirmed flush position: where replication resumes. */
  confirmedFlush: FlushLsn;
  slotCreated: boolean;
  publicationCreated: boolean;
}

/**
 * Session settings for the replication connection, so that values arrive in one form whatever
 * the server's defaults: ISO dates, UTC, ISO 8601 intervals, shortest exact floats and hex bytea.
 */
const SESSION_OPTIONS =
  '-c client_encoding=UTF8 -c datestyle=ISO,YMD -c timezone=UTC -c intervalstyle=iso_8601 -c extra_float_digits=1 -c bytea_output=hex';

function clientConfig(s: PgSettings, replication: boolean, sessionOptions = replication): pg.ClientConfig {
  const config: pg.ClientConfig & { replication?: string } = {
    host: s.host,
    port: s.port,
    database: s.database,
    user: s.user,
    application_name: 'pgwalstreams',
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    // Always set, so node-postgres never falls back to PGSSLMODE on its own.
    ssl: s.ssl ?? false,
  };
  if (s.password !== undefined) config.password = s.password;
  if (replication) config.replication = 'database';
  if (sessionOptions) config.options = SESSION_OPTIONS;
  return config;
}

/**
 * Wraps a connection failure as retryable, unless the configuration must change: refused
 * authentication, a missing database, a server certificate that is not trusted, or TLS asked
 * of a server that has none.
 */
function connectionError(s: PgSettings, cause: unknown): ReplicationError {
  const code = (cause as { code?: string }).code;
  const message = cause instanceof Error ? cause.message : '';
  let hint: string | undefined;
  if (code === '28P01') hint = ': check database.user and the password';
  else if (code === '28000') {
    hint =
      ': the server refused this user from this host: check database.user and database.sslMode (pg_hba.conf)';
  } else if (code === '3D000') hint = ': check database.name';
  else if (isCertificateError(cause)) {
    hint = `: the server's certificate is not trusted (${message}): check database.sslRootCert, and database.host with sslMode verify-full`;
  } else if (message === 'The server does not support SSL connections') {
    hint =
      ': the server does not accept TLS: turn ssl on in postgresql.conf, or set database.sslMode to disable';
  }
  return new ReplicationError(`cannot connect to postgresql at ${s.host}:${s.port}${hint ?? ''}`, {
    cause,
    retryable: hint === undefined,
  });
}

/** Opens a plain SQL connection. */
export async function connectSql(s: PgSettings): Promise<pg.Client> {
  const client = new pg.Client(clientConfig(s, false));
  client.on('error', () => {}); // errors surface on the next query; never crash on an idle socket error
  try {
    await client.connect();
  } catch (cause) {
    throw connectionError(s, cause);
  }
  return client;
}

/** Every value as the server's text, unparsed: what pgoutput sends for it. */
const RAW_TEXT = { getTypeParser: () => (text: string) => text };

/**
 * Opens a SQL connection with the replication connection's session settings whose rows come back
 * as the server's text of each value, so that a row read here is the text pgoutput would send.
 */
export async function connectRowReader(s: PgSettings): Promise<pg.Client> {
  const client = new pg.Client({ ...clientConfig(s, false, true), types: RAW_TEXT });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (cause) {
    throw connectionError(s, cause);
  }
  return client;
}

/** Quotes an SQL identifier. */
export function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"';
}

/**
 * Checks `wal_level`, creates the publication (`FOR ALL TABLES`) and the pgoutput slot when
 * they are absent, and returns where replication resumes. A publication the user made is
 * left as it is.
 */
export async function prepare(
  client: pg.Client,
  s: SlotSettings,
  createSlot: (client: pg.Client) => Promise<void> = (c) => createSlotBySql(c, s.slot),
): Promise<PreparedSlot> {
  const walLevel = (await client.query<{ wal_level: string }>('SHOW wal_level')).rows[0]?.wal_level;
  if (walLevel !== 'logical') {
    throw new ReplicationError(
      `postgresql has wal_level = ${walLevel ?? 'unknown'}; logical replication needs wal_level = logical: ` +
        `set it in postgresql.conf (or run ALTER SYSTEM SET wal_level = logical) and restart postgresql`,
      { retryable: false },
    );
  }

  let publicationCreated = false;
  const pub = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [s.publication]);
  if (pub.rowCount === 0) {
    try {
      await client.query(`CREATE PUBLICATION ${quoteIdent(s.publication)} FOR ALL TABLES`);
      publicationCreated = true;
    } catch (cause) {
      if ((cause as { code?: string }).code !== '42710') {
        throw new ReplicationError(
          `cannot create publication ${s.publication}: FOR ALL TABLES needs a superuser; create it once as one ` +
            `(CREATE PUBLICATION ${quoteIdent(s.publication)} FOR ALL TABLES) or name an existing publication in listener.publication`,
          { cause, retryable: false },
        );
      }
    }
  }

  let slotCreated = false;
  let slot = await readSlot(client, s.slot);
  if (!slot) {
    try {
      await createSlot(client);
      slotCreated = true;
    } catch (cause) {
      if ((cause as { code?: string }).code !== '42710') {
        throw new ReplicationError(
          `cannot create replication slot ${s.slot}: the user needs the REPLICATION attribute ` +
            `(ALTER ROLE … WITH REPLICATION) and max_replication_slots must have room`,
          { cause, retryable: false },
        );
      }
    }
    slot = await readSlot(client, s.slot);
    if (!slot) throw new ReplicationError(`replication slot ${s.slot} vanished right after creation`);
  }
  if (slot.plugin !== 'pgoutput' || slot.database !== (await currentDatabase(client))) {
    throw new ReplicationError(
      `replication slot ${s.slot} exists but uses plugin ${slot.plugin ?? 'none'} on database ${slot.database ?? 'none'}: ` +
        `choose another listener.slotName, or drop that slot`,
      { retryable: false },
    );
  }
  if (slot.wal_status === 'lost' || slot.confirmed_flush_lsn === null) {
    throw new ReplicationError(
      `replication slot ${s.slot} is invalidated (the WAL it needed was removed): changes were lost; ` +
        `drop the slot (SELECT pg_drop_replication_slot('${s.slot}')) and start again to create a new one`,
      { retryable: false },
    );
  }
  if (slot.active_pid !== null) {
    throw new ReplicationError(
      `replication slot ${s.slot} is in use by another connection (pid ${slot.active_pid})`,
      { slotBusy: true },
    );
  }
  return {
    serverVersion: await serverVersion(client),
    confirmedFlush: parseLsn(slot.confirmed_flush_lsn) as FlushLsn,
    slotCreated,
    publicationCreated,
  };
}

/** Creates the slot with the SQL function (no snapshot is exported). */
async function createSlotBySql(client: pg.Client, slot: string): Promise<void> {
  await client.query(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, [slot]);
}

interface SlotRow {
  plugin: string | null;
  database: string | null;
  confirmed_flush_lsn: string | null;
  active_pid: number | null;
  wal_status: string | null;
}

async function readSlot(client: pg.Client, slot: string): Promise<SlotRow | undefined> {
  const r = await client.query<SlotRow>(
    'SELECT plugin, database, confirmed_flush_lsn::text, active_pid, wal_status FROM pg_replication_slots WHERE slot_name = $1',
    [slot],
  );
  return r.rows[0];
}

/** The server's `server_version_num`, e.g. 150004. */
async function serverVersion(client: pg.Client): Promise<number> {
  const version = (await client.query<{ v: string }>("SELECT current_setting('server_version_num') AS v"))
    .rows[0]?.v;
  return Number(version ?? 0);
}

async function currentDatabase(client: pg.Client): Promise<string | undefined> {
  return (await client.query<{ db: string }>('SELECT current_database() AS db')).rows[0]?.db;
}

/** A replication-mode connection: identifies the server, then streams one slot. */
export class ReplicationStream {
  private copy: CopyBothQueryStream | null = null;
  private closing = false;
  private ended = false;

  private constructor(
    private readonly client: pg.Client,
    /** The database system identifier from IDENTIFY_SYSTEM. */
    readonly systemId: string,
  ) {}

  /** Connects in replication mode and runs IDENTIFY_SYSTEM. */
  static async connect(pgs: PgSettings): Promise<ReplicationStream> {
    const client = new pg.Client(clientConfig(pgs, true));
    client.on('error', () => {}); // reported through `closed` once streaming
    try {
      await client.connect();
    } catch (cause) {
      throw connectionError(pgs, cause);
    }
    try {
      const ident = await client.query<{ systemid: string }>('IDENTIFY_SYSTEM');
      return new ReplicationStream(client, ident.rows[0]?.systemid ?? '');
    } catch (cause) {
      await client.end().catch(() => {});
      throw new ReplicationError('IDENTIFY_SYSTEM failed on the replication connection', { cause });
    }
  }

  /** The server process of this connection (the walsender once streaming). */
  get pid(): number {
    return (this.client as unknown as { processID: number }).processID;
  }

  /**
   * Creates the slot with an exported snapshot (`CREATE_REPLICATION_SLOT … LOGICAL pgoutput`),
   * valid until this connection's next command.
   */
  async createSlotExporting(slot: string, serverVersion: number): Promise<ExportedSnapshot> {
    const options = serverVersion >= 150000 ? "(SNAPSHOT 'export')" : 'EXPORT_SNAPSHOT';
    const r = await this.client.query<{ consistent_point: string; snapshot_name: string }>(
      `CREATE_REPLICATION_SLOT ${quoteIdent(slot)} LOGICAL pgoutput ${options}`,
    );
    const row = r.rows[0];
    if (!row?.snapshot_name) throw new ReplicationError(`creating slot ${slot} exported no snapshot`);
    return { name: row.snapshot_name, consistentPoint: parseLsn(row.consistent_point) };
  }

  /**
   * Starts streaming `slot` from `start`; frames and the end of the stream go to `listener`.
   * With `messages`, logical messages (`pg_logical_emit_message`) are streamed too (PostgreSQL 14+).
   */
  start(slot: SlotSettings, start: Lsn, listener: ReplicationListener, options: { messages: boolean }): void {
    const publications = `'${quoteIdent(slot.publication).replaceAll("'", "''")}'`;
    const sql =
      `START_REPLICATION SLOT ${quoteIdent(slot.slot)} LOGICAL ${formatLsn(start)} ` +
      `(proto_version '1', publication_names ${publications}${options.messages ? ", messages 'true'" : ''})`;
    const copy = this.client.query(copyStreams.both(sql, { alignOnCopyDataFrame: true }));
    this.copy = copy;
    const close = (err: ReplicationError) => {
      if (this.ended) return;
      this.ended = true;
      listener.closed(err);
    };
    copy.on('data', (chunk: Buffer) => {
      if (!this.closing) listener.frame(chunk);
    });
    copy.on('error', (cause: unknown) => close(replicationFailure(slot.slot, cause)));
    copy.on('end', () => close(new ReplicationError('postgresql ended the replication stream')));
    this.client.on('error', (cause) => close(new ReplicationError('replication connection lost', { cause })));
    this.client.on('end', () => close(new ReplicationError('replication connection closed')));
  }

  /** Sends a Standby Status Update: `write` received, `flush` and `apply` confirmed. */
  sendStatus({ write, flush }: StandbyPositions, replyRequested: boolean): void {
    if (this.ended || !this.copy) return;
    this.copy.write(
      encodeStandbyStatus({ write, flush, apply: flush, clock: pgClock(Date.now()), replyRequested }),
    );
  }

  /** Stops delivering frames until `resume` (the socket is not read meanwhile). */
  pause(): void {
    this.copy?.pause();
  }

  /** Delivers frames again after `pause`. */
  resume(): void {
    if (!this.closing) this.copy?.resume();
  }

  /** Ends the session: no more frames are delivered, the connection is closed. */
  async stop(): Promise<void> {
    this.closing = true;
    this.ended = true;
    this.copy?.destroy();
    await this.client.end().catch(() => {});
  }
}

function replicationFailure(slot: string, cause: unknown): ReplicationError {
  const code = (cause as { code?: string }).code;
  if (code === '55006') {
    return new ReplicationError(`replication slot ${slot} is in use by another connection`, {
      cause,
      slotBusy: true,
    });
  }
  if (code === '42704') {
    return new ReplicationError(`replication slot ${slot} does not exist`, { cause });
  }
  return new ReplicationError('replication stream failed', { cause });
}

/**
 * Opens a session's connections to PostgreSQL: a SQL connection that checks the server and
 * creates the publication and slot when they are absent (`prepare`), then a replication
 * connection. Fails with the `ReplicationError` of `prepare` or of connecting, having closed
 * whatever it opened.
 */
export async function openReplicationSource(
  pgs: PgSettings,
  slot: SlotSettings,
  options: SourceOptions = {},
): Promise<ReplicationSource> {
  const sql = await connectSql(pgs);
  let stream: ReplicationStream | undefined;
  try {
    let exported: ExportedSnapshot | null = null;
    let prepared: PreparedSlot;
    const exporting = options.exportSnapshot;
    if (exporting) {
      // The slot is created on the replication connection, which then streams it: the snapshot
      // it exports lives until that connection's next command.
      stream = await ReplicationStream.connect(pgs);
      const created = stream;
      prepared = await prepare(sql, slot, async (c) => {
        await exporting.beforeCreate();
        exported = await created.createSlotExporting(slot.slot, await serverVersion(c));
      });
    } else {
      prepared = await prepare(sql, slot);
      stream = await ReplicationStream.connect(pgs);
    }
    return new PgReplicationSource(sql, stream, prepared, slot, exported);
  } catch (err) {
    await stream?.stop();
    await sql.end().catch(() => {});
    throw err;
  }
}

/** How a session's source is opened. */
export interface SourceOptions {
  /**
   * Create an absent slot with an exported snapshot (for an initial snapshot); `beforeCreate` runs
   * just before it is created.
   */
  exportSnapshot?: { beforeCreate: () => Promise<void> } | undefined;
}

/** A `ReplicationSource` over a SQL connection and a replication connection. */
class PgReplicationSource implements ReplicationSource {
  readonly systemId: string;
  readonly start: FlushLsn;
  readonly created: { readonly slot: boolean; readonly publication: boolean };
  readonly readTypes: ReadTypes;

  constructor(
    private readonly sql: pg.Client,
    private readonly replication: ReplicationStream,
    private readonly prepared: PreparedSlot,
    private readonly slot: SlotSettings,
    readonly exported: ExportedSnapshot | null,
  ) {
    this.systemId = replication.systemId;
    this.start = prepared.confirmedFlush;
    this.created = { slot: prepared.slotCreated, publication: prepared.publicationCreated };
    this.readTypes = catalogTypeReader(sql, prepared.serverVersion);
  }

  stream(listener: ReplicationListener): void {
    // Logical messages (pg_logical_emit_message) are streamed from PostgreSQL 14 on.
    this.replication.start(this.slot, this.start, listener, {
      messages: this.prepared.serverVersion >= 140000,
    });
  }

  sendStatus(positions: StandbyPositions, replyRequested: boolean): void {
    this.replication.sendStatus(positions, replyRequested);
  }

  async holdSlot(): Promise<void> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const r = await this.sql.query<{ active_pid: number | null }>(
        'SELECT active_pid FROM pg_replication_slots WHERE slot_name = $1',
        [this.slot.slot],
      );
      const pid = r.rows[0]?.active_pid ?? null;
      if (pid === this.replication.pid) return;
      if (pid !== null || Date.now() > deadline) {
        throw new ReplicationError(
          `replication slot ${this.slot.slot} is in use by another connection (pid ${pid ?? 'none'})`,
          { slotBusy: true },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  pause(): void {
    this.replication.pause();
  }

  resume(): void {
    this.replication.resume();
  }

  async close(): Promise<void> {
    await this.replication.stop();
    await this.sql.end().catch(() => {});
  }
}

/**
 * The configuration schema: the single source of the configuration's types, defaults and rules.
 *
 * Every section may be absent and then takes its defaults; only `database.name` and
 * `database.user` must be set (in the file, by an environment variable or by a libpq fallback,
 * see `load.ts`). Unknown keys are errors so that typos are caught. Messages are phrased as the
 * fix; generic ones (type, required, unknown key) are worded by the loader's error map.
 */
import * as z from 'zod';
import { ACTION_NAMES } from '../event/action.js';
import { isValidSubjectPrefix } from '../route/subject.js';
import { quote } from './tree.js';

// The configuration is parsed once at start (and at each reload): zod's compiled fast path for
// objects costs more to build (generated code, compiled by V8) than it saves on one parse.
z.config({ jitless: true });

/** The log levels pino accepts. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** The longest timer Node.js can set, in milliseconds (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

const DURATION_PART = /(\d+(?:\.\d+)?)(ms|h|m|s)/y;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/**
 * Parses a duration such as `500ms`, `10s`, `2m`, `1h`, `1m30s` or a number of milliseconds
 * (also as digits in a string, as environment variables are) into whole milliseconds.
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? Math.round(value) : undefined;
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return Math.round(Number(text));
  if (text === '') return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const match = DURATION_PART.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  }
  return Math.round(total);
}

/**
 * The message for NaN or an infinity (YAML's `.nan`, `.inf`, `-.inf`; `NaN` or `Infinity` in a
 * variable) where a number is wanted, with `fix`; undefined for any other value.
 */
function notFinite(input: unknown, fix: string): string | undefined {
  return typeof input === 'number' && !Number.isFinite(input)
    ? `${String(input)} is not a finite number: ${fix}`
    : undefined;
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB)?$/i;
const SIZE_UNIT: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const SIZE_MESSAGE = 'write it like 512MB or 1GB, or a number of bytes';

/**
 * A size in bytes, written as a number of bytes or with a unit (`512MB`, `1GB`; powers of 1024).
 * Its input side (what the JSON Schema shows) is a string or a number.
 */
function byteSize() {
  const input = z.union([z.string(), z.number()], {
    error: (iss) => notFinite(iss.input, SIZE_MESSAGE) ?? `expected a size: ${SIZE_MESSAGE}`,
  });
  return input.transform((value, ctx): number => {
    const m = typeof value === 'number' ? [String(value), String(value), 'B'] : SIZE.exec(value.trim());
    const bytes = m ? Math.round(Number(m[1]) * SIZE_UNIT[(m[2] ?? 'B').toUpperCase()]!) : NaN;
    if (!Number.isFinite(bytes) || bytes <= 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${quote(value)} is not a size: ${SIZE_MESSAGE}`,
      });
      return z.NEVER;
    }
    return bytes;
  });
}

const DURATION_MESSAGE = 'write it like 500ms, 10s, 2m, 1h or 1m30s, or a number of milliseconds';

/**
 * A positive duration (or 0 where allowed), written as text (`10s`) or milliseconds; parsed to
 * milliseconds. Its input side (what the JSON Schema shows) is a string or a number.
 */
function duration(options: { allowZero?: boolean } = {}) {
  const input = z.union([z.string(), z.number()], {
    error: (iss) => notFinite(iss.input, DURATION_MESSAGE) ?? `expected a duration: ${DURATION_MESSAGE}`,
  });
  return input.transform((value, ctx): number => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message:
          typeof value === 'string'
            ? `${quote(value)} is not a duration: write it like 500ms, 10s, 2m, 1h or 1m30s`
            : `expected a duration: ${DURATION_MESSAGE}`,
      });
      return z.NEVER;
    }
    const zeroAllowed = ms === 0 && options.allowZero === true;
    if (!zeroAllowed && (ms <= 0 || ms > MAX_TIMER_MS)) {
      ctx.addIssue({
        code: 'custom',
        message: `${quote(value)} is out of range: use a duration from 1ms to 24d (${MAX_TIMER_MS}ms)`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

/** A whole number from min to max, with one message for every way of missing it. */
function wholeNumber(min: number, max: number, note = '') {
  const message = `use a whole number from ${min} to ${max}${note}`;
  return z
    .number({ error: (iss) => notFinite(iss.input, message) })
    .int({ error: (iss) => `${String(iss.input)} is not a whole number: ${message}` })
    .min(min, { error: (iss) => `${String(iss.input)} is too small: ${message}` })
    .max(max, { error: (iss) => `${String(iss.input)} is too large: ${message}` });
}

/** A string that must pass `test`, with a message built from the value. */
function checkedString(test: (value: string) => boolean, explain: (value: string) => string) {
  return z.string().refine(test, { error: (iss) => explain(String(iss.input)) });
}

/** Characters allowed in a subject token: printable ASCII except space (and '.', the separator). */
const SUBJECT_TOKEN = /^[\x21-\x2d\x2f-\x7e]+$/;

/** True for a subject filter: `*` and `>` only as whole tokens, `>` only last. */
function isValidSubjectFilter(subject: string): boolean {
  const tokens = subject.split('.');
  return tokens.every((t, i) => {
    if (t === '>') return i === tokens.length - 1;
    return SUBJECT_TOKEN.test(t) && (t === '*' || (!t.includes('*') && !t.includes('>')));
  });
}

/** One NATS server address: `nats://host:port`, `tls://host:port` or `host[:port]`. */
function isValidNatsUrl(url: string): boolean {
  if (!/^\S+$/.test(url)) return false;
  if (!url.includes('://')) return /^[^/?#@]+$/.test(url);
  try {
    const parsed = new URL(url);
    return (parsed.protocol === 'nats:' || parsed.protocol === 'tls:') && parsed.hostname !== '';
  } catch {
    return false;
  }
}

/** A filter key: `table` (in any schema) or `schema.table`. */
function isValidTableKey(key: string): boolean {
  const parts = key.split('.');
  return parts.length <= 2 && parts.every((p) => p !== '' && !p.includes('*'));
}

const action = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(
    z.enum(ACTION_NAMES, {
      error: (iss) => `${quote(iss.input)} is not an action: use insert, update, delete or truncate`,
    }),
  );

const filterSchema = z.strictObject({
  /** Table (`users`, any schema) or `schema.table` → the actions to publish. Empty: every table. */
  tables: z
    .record(
      checkedString(
        isValidTableKey,
        (k) => `${quote(k)} is not a table: write "table" or "schema.table" (no wildcards)`,
      ),
      z
        .array(action)
        .min(1, { error: 'is an empty list: list at least one action or remove the key' })
        .transform((actions) => [...new Set(actions)]),
    )
    .default({}),
  /**
   * Prefixes of `pg_logical_emit_message` messages to publish. Absent: every message; an empty
   * list: none.
   */
  messages: z
    .array(z.string().min(1, { error: 'is empty: write the message prefix to publish' }))
    .transform((prefixes) => [...new Set(prefixes)])
    .optional(),
});

/** How the connections to PostgreSQL use TLS; the names and meanings of libpq's `sslmode`. */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
/** One TLS mode for PostgreSQL. */
export type SslMode = (typeof SSL_MODES)[number];

const sslMode = z.enum(SSL_MODES, {
  error: (iss) =>
    iss.input === 'allow' || iss.input === 'prefer'
      ? `${quote(iss.input)} may fall back to no encryption, which pgwalstreams does not do: ` +
        'use disable, require, verify-ca or verify-full'
      : `${quote(iss.input)} is not one of disable, require, verify-ca, verify-full: pick one of them`,
});

/** A path to a file that is read at start; the loader reports a file it cannot read under this key. */
function filePath() {
  return z.string().min(1, { error: 'is empty: set a path or remove the key' });
}

/** Reports `key` when it is set together with `other` (both dotted paths under `section`). */
function exclusive(
  ctx: z.core.$RefinementCtx,
  value: Record<string, unknown>,
  section: string,
  key: string,
  other: string,
): void {
  if (value[key] !== undefined && value[other] !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: `cannot be used together with ${section}.${other}: keep one of them`,
    });
  }
}

/** Reports `key` when it is set without `partner`, which it needs. */
function requires(
  ctx: z.core.$RefinementCtx,
  value: Record<string, unknown>,
  section: string,
  key: string,
  partner: string,
): void {
  if (value[key] !== undefined && value[partner] === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: `needs ${section}.${partner} as well: set both or neither`,
    });
  }
}

const databaseSchema = z
  .strictObject({
    host: z.string().min(1, { error: 'is empty: set a host name or remove the key' }).default('localhost'),
    port: wholeNumber(1, 65535).default(5432),
    name: z.string().min(1, { error: 'is empty: set the database name' }),
    user: z.string().min(1, { error: 'is empty: set the user name' }),
    /** The password; after loading it also holds the content of `passwordFile`. */
    password: z.string().min(1, { error: 'is empty: set a password or remove the key' }).optional(),
    /** A file holding the password (a trailing newline is dropped), such as a mounted secret. */
    passwordFile: filePath().optional(),
    /**
     * TLS for both connections (SQL and replication), as libpq's `sslmode`: `disable`, `require`
     * (encrypted, the server is not verified), `verify-ca` (the server's certificate chain is
     * verified, not its host name) or `verify-full` (chain and host name). `allow` and `prefer`
     * are refused: they may silently fall back to no encryption.
     */
    sslMode: sslMode.default('disable'),
    /**
     * PEM file of the certificate authorities to trust for the server's certificate, with
     * `verify-ca` or `verify-full`; absent: the CAs that Node.js trusts.
     */
    sslRootCert: filePath().optional(),
    /** PEM file of a client certificate to present; needs `sslKey` and TLS. */
    sslCert: filePath().optional(),
    /** PEM file of the private key of `sslCert` (unencrypted). */
    sslKey: filePath().optional(),
    filter: filterSchema.prefault({}),
  })
  .superRefine(
    (db, ctx) => {
      exclusive(ctx, db, 'database', 'passwordFile', 'password');
      requires(ctx, db, 'database', 'sslCert', 'sslKey');
      requires(ctx, db, 'database', 'sslKey', 'sslCert');
      const verifies = db.sslMode === 'verify-ca' || db.sslMode === 'verify-full';
      if (db.sslRootCert !== undefined && !verifies) {
        ctx.addIssue({
          code: 'custom',
          path: ['sslRootCert'],
          message: `is only used to verify the server: set database.sslMode to verify-full (or verify-ca), or remove the key`,
        });
      }
      if (db.sslCert !== undefined && db.sslMode === 'disable') {
        ctx.addIssue({
          code: 'custom',
          path: ['sslCert'],
          message: 'needs TLS: set database.sslMode to verify-full, verify-ca or require',
        });
      }
    },
    { when: () => true },
  );

const streamSchema = z.strictObject({
  name: checkedString(
    (s) => /^[\x21-\x7e]+$/.test(s) && !/[.*>/\\]/.test(s),
    (s) =>
      `${quote(s)} is not a valid stream name: use letters, digits, "-" or "_" ` +
      '(no spaces, ".", "*", ">", "/" or "\\")',
  ),
  /** Defaults to `<topicPrefix>.>`. */
  subjects: z
    .array(
      checkedString(
        isValidSubjectFilter,
        (s) =>
          `${quote(s)} is not a valid subject: use dot-separated tokens without spaces; ` +
          '"*" and ">" only as whole tokens, ">" only last',
      ),
    )
    .min(1, { error: 'is an empty list: list at least one subject or remove the key' })
    .optional(),
  storage: z.enum(['file', 'memory']).default('file'),
  duplicateWindow: duration().prefault('2m'),
  replicas: wholeNumber(1, 5).default(1),
});

/** The stream with its subjects defaulted to everything under the topic prefix. */
function withSubjects<T extends { name: string; subjects?: string[] | undefined }>(
  { name, subjects, ...rest }: T,
  topicPrefix: string,
) {
  return { name, subjects: subjects ?? [`${topicPrefix}.>`], ...rest };
}

const natsTlsSchema = z
  .strictObject({
    /** PEM file of the certificate authorities to trust for the server; absent: those Node.js trusts. */
    ca: filePath().optional(),
    /** PEM file of a client certificate to present; needs `key`. */
    cert: filePath().optional(),
    /** PEM file of the private key of `cert` (unencrypted). */
    key: filePath().optional(),
  })
  .superRefine(
    (tls, ctx) => {
      requires(ctx, tls, 'nats.tls', 'cert', 'key');
      requires(ctx, tls, 'nats.tls', 'key', 'cert');
    },
    { when: () => true },
  );

/** The NATS authentication keys, by method; at most one method may be configured. */
const NATS_AUTH_METHODS = [
  ['user', 'password', 'passwordFile'],
  ['token', 'tokenFile'],
  ['nkeySeedFile'],
  ['credsFile'],
] as const;

const natsSchema = z
  .strictObject({
    /** One URL or a comma-separated list; parsed to a list. */
    address: z
      .string()
      .transform((text, ctx): string[] => {
        const urls = text.split(',').map((u) => u.trim());
        for (const url of urls) {
          if (!isValidNatsUrl(url)) {
            ctx.addIssue({
              code: 'custom',
              message:
                `${quote(url)} is not a NATS server address: ` +
                'use nats://host:port or tls://host:port, several separated by ","',
            });
          }
        }
        return urls;
      })
      .prefault('nats://127.0.0.1:4222'),
    topicPrefix: checkedString(
      isValidSubjectPrefix,
      (s) => `${quote(s)} is not a valid subject prefix: use dot-separated tokens without spaces, "*" or ">"`,
    ).default('db'),
    /** Publishes not yet acknowledged by JetStream, at most. */
    maxInFlight: wholeNumber(1, 65536).default(4096),
    /** How long to wait for a PubAck. */
    ackTimeout: duration().prefault('10s'),
    /** Also publish a marker with the transaction's size on `<topicPrefix>.transaction.commit`. */
    transactionEvents: z.boolean().default(false),
    /**
     * Transaction headers every event carries besides `Nats-Msg-Id`, `Pgwalstreams-Slot` and
     * `Nats-Expected-Last-Sequence` or `-Msg-Id` (and `Pgwalstreams-Transactional: false` on a
     * message outside a transaction): `lsn` (`Pgwalstreams-Lsn`), `xid` (`Pgwalstreams-Xid`), `position`
     * (`Pgwalstreams-Position`). None by default:
     * the body and the id hold the same values, and each header costs nats-server time per message.
     */
    headers: z.array(z.enum(['lsn', 'xid', 'position'])).default([]),
    /** When present, the stream is created at start if missing. */
    stream: streamSchema.optional(),
    /**
     * TLS for the NATS connection. Its presence (even `{}`) requires TLS, as does a `tls://`
     * address; without it the client still upgrades when the server offers TLS, verifying it.
     */
    tls: natsTlsSchema.optional(),
    /** User name for user and password authentication; needs `password` or `passwordFile`. */
    user: z.string().min(1, { error: 'is empty: set the user name or remove the key' }).optional(),
    /** The password of `user`; after loading it also holds the content of `passwordFile`. */
    password: z.string().min(1, { error: 'is empty: set a password or remove the key' }).optional(),
    /** A file holding the password of `user` (a trailing newline is dropped). */
    passwordFile: filePath().optional(),
    /** Token authentication; after loading it also holds the content of `tokenFile`. */
    token: z.string().min(1, { error: 'is empty: set a token or remove the key' }).optional(),
    /** A file holding the token (a trailing newline is dropped). */
    tokenFile: filePath().optional(),
    /** A file holding a user nkey seed (`SU…`), for nkey authentication. */
    nkeySeedFile: filePath().optional(),
    /** A JWT credentials file (`.creds`: user JWT and nkey seed), for decentralised authentication. */
    credsFile: filePath().optional(),
  })
  .superRefine(
    (nats, ctx) => {
      exclusive(ctx, nats, 'nats', 'passwordFile', 'password');
      exclusive(ctx, nats, 'nats', 'tokenFile', 'token');
      const hasPassword = nats.password !== undefined || nats.passwordFile !== undefined;
      if (nats.user !== undefined && !hasPassword) {
        ctx.addIssue({
          code: 'custom',
          path: ['user'],
          message: 'needs nats.password or nats.passwordFile as well',
        });
      }
      if (nats.user === undefined && hasPassword) {
        ctx.addIssue({
          code: 'custom',
          path: [nats.password !== undefined ? 'password' : 'passwordFile'],
          message: 'needs nats.user as well',
        });
      }
      // The first key set of each method; a second method is reported at its key.
      const used = NATS_AUTH_METHODS.map((keys) => keys.find((k) => nats[k] !== undefined)).filter(
        (k) => k !== undefined,
      );
      for (const key of used.slice(1)) {
        ctx.addIssue({
          code: 'custom',
          path: [key],
          message: `cannot be used together with nats.${used[0]}: configure one way to authenticate`,
        });
      }
    },
    { when: () => true },
  )
  .transform(({ stream, ...nats }) => ({
    ...nats,
    stream: stream && withSubjects(stream, nats.topicPrefix),
  }));

/** The whole configuration file. */
export const configSchema = z.strictObject({
  listener: z
    .strictObject({
      slotName: checkedString(
        (s) => /^[a-z0-9_]{1,63}$/.test(s),
        (s) => `${quote(s)} is not a valid slot name: use 1 to 63 lower-case letters, digits or "_"`,
      ).default('pgwalstreams'),
      /** Created FOR ALL TABLES if absent. */
      publication: checkedString(
        (s) => s.length > 0 && Buffer.byteLength(s) <= 63 && !s.includes('\0'),
        (s) => `${quote(s)} is not a valid publication name: use 1 to 63 bytes`,
      ).default('wal-listener'),
      /** Port of /healthz, /readyz and /metrics; 0 turns the server off. */
      serverPort: wholeNumber(0, 65535, ' (0 turns the server off)').default(8080),
      shutdownTimeout: duration().prefault('30s'),
      /** How often the slot's lag and retained WAL are read from the server. */
      slotCheckInterval: duration().prefault('10s'),
      /** Warn when the slot holds more WAL than this on the server. */
      retainedWalWarning: byteSize().prefault('1GB'),
      /** Write a heartbeat (pg_logical_emit_message) this often so an idle slot advances; 0: off. */
      heartbeatInterval: duration({ allowZero: true }).prefault(0),
      /**
       * `initial`: when pgwalstreams creates its slot, publish every published table's rows as they
       * were at the slot's consistent point, before any change after it. `never`: changes only.
       */
      snapshot: z.enum(['never', 'initial']).default('never'),
    })
    .prefault({}),
  /** Snapshots and backfills: where their progress lives, and how big a chunk may be. */
  backfill: z
    .strictObject({
      /** The JetStream key-value bucket that holds backfill progress (created when absent). */
      bucket: checkedString(
        (s) => /^[a-zA-Z0-9_-]{1,64}$/.test(s),
        (s) => `${quote(s)} is not a valid bucket name: use 1 to 64 letters, digits, "-" or "_"`,
      ).default('pgwalstreams_backfill'),
      /** Replicas of the bucket's stream (3 in a JetStream cluster). */
      replicas: wholeNumber(1, 5).default(1),
      /** How long one chunk's query should take: the chunk size adapts to it. */
      chunkTime: duration().prefault('500ms'),
      /** Most rows in one chunk (what a backfill holds in memory at once). */
      maxChunkRows: wholeNumber(1, 1_000_000).default(20_000),
    })
    .prefault({}),
  // An absent section still reaches the inner schema, so each missing required key is reported.
  database: databaseSchema.prefault(() => ({}) as z.input<typeof databaseSchema>),
  nats: natsSchema.prefault({}),
  logger: z
    .strictObject({
      level: z.enum(LOG_LEVELS).default('info'),
      format: z.enum(['json', 'pretty']).default('json'),
    })
    .prefault({}),
});

/** The configuration after validation, with defaults applied and durations in milliseconds. */
export type Config = z.infer<typeof configSchema>;

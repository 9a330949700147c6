/**
 * Secrets: the database and NATS passwords, the NATS token, the content of the files holding
 * them, an nkey seed, and a password or token in a NATS URL. They are collected from the raw
 * configuration and the environment, scrubbed from every error message, and redacted from a
 * configuration that is logged or printed.
 */
import { ConfigError, type ConfigProblem } from '../errors.js';
import { ENV_PREFIX } from './env.js';
import type { Config } from './schema.js';
import { CUT_MARK, getIn, QUOTE_LIMIT } from './tree.js';

const REDACTED = '[redacted]';

/** The keys that hold a secret, as written in the file or set by a variable. */
const SECRET_KEYS = [
  ['database', 'password'],
  ['nats', 'password'],
  ['nats', 'token'],
] as const;

/** The secrets this configuration involves, to be kept out of every message. */
export function collectSecrets(raw: unknown, env: NodeJS.ProcessEnv): string[] {
  const secrets: string[] = [];
  for (const segments of SECRET_KEYS) {
    const value = getIn(raw, segments);
    if (typeof value === 'string' || typeof value === 'number') secrets.push(String(value));
  }
  const variables = [
    `${ENV_PREFIX}DATABASE_PASSWORD`,
    'PGPASSWORD',
    `${ENV_PREFIX}NATS_PASSWORD`,
    `${ENV_PREFIX}NATS_TOKEN`,
  ];
  for (const name of variables) {
    const value = env[name];
    if (value) secrets.push(value);
  }
  const address = getIn(raw, ['nats', 'address']);
  if (typeof address === 'string') {
    for (const url of address.split(',')) {
      const secret = urlSecret(url.trim());
      if (secret) secrets.push(secret, decodeURIComponent(secret));
    }
  }
  return secrets;
}

/** The password of a URL, or its user name when there is no password (`nats://token@host`). */
function urlSecret(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    return parsed.password || parsed.username || undefined;
  } catch {
    return undefined;
  }
}

/** Replaces every secret, as written and as JSON would escape it, with `[redacted]`. */
function scrub(text: string, secrets: readonly string[]): string {
  const forms = secrets
    .filter((s) => s !== '')
    .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
    .sort((a, b) => b.length - a.length);
  let out = text;
  for (const form of forms) out = out.replaceAll(form, REDACTED);
  // A value quoted cut short (`quote`) may end with the start of a secret: that start goes too
  // (and, when the value's last characters merely look like one, those few characters).
  return out
    .split(CUT_MARK)
    .map((part, i, parts) => (i < parts.length - 1 ? hideSecretStart(part, forms) : part))
    .join(CUT_MARK);
}

/** `text` with its end replaced by `[redacted]` where the end (before a closing quote) begins a secret. */
function hideSecretStart(text: string, forms: readonly string[]): string {
  const head = text.endsWith('"') ? text.slice(0, -1) : text;
  // A head is at most QUOTE_LIMIT characters, each escaped in at most 6.
  const longest = Math.min(head.length, 6 * QUOTE_LIMIT);
  for (let n = longest; n > 0; n--) {
    const end = head.slice(-n);
    if (forms.some((form) => form.startsWith(end)))
      return `${head.slice(0, -n)}${REDACTED}${text.slice(head.length)}`;
  }
  return text;
}

/** Throws a ConfigError with the message and problems, every secret in them scrubbed. */
export function fail(message: string, problems: readonly ConfigProblem[], secrets: readonly string[]): never {
  throw new ConfigError(
    scrub(message, secrets),
    problems.map((p) => ({ path: scrub(p.path, secrets), message: scrub(p.message, secrets) })),
  );
}

/** A URL with its password, or its token (a user name without password), replaced by `redacted`. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = 'redacted';
    else if (parsed.username) parsed.username = 'redacted';
    else return url;
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * A copy of the configuration that is safe to log or print: the database and NATS passwords and
 * the NATS token replaced by `[redacted]`, and so are secrets in NATS URLs. File paths stay.
 */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  if (copy.database.password !== undefined) copy.database.password = REDACTED;
  if (copy.nats.password !== undefined) copy.nats.password = REDACTED;
  if (copy.nats.token !== undefined) copy.nats.token = REDACTED;
  copy.nats.address = copy.nats.address.map(redactUrl);
  return copy;
}

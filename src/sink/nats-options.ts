/**
 * The `nats` section as `@nats-io/transport-node` `connect()` options (servers, TLS and
 * authentication), and the first connection with errors that say what to check. Connection
 * behaviour (name, reconnects) is left to the caller.
 */
import {
  connect,
  credsAuthenticator,
  nkeyAuthenticator,
  type NatsConnection,
  type NodeConnectionOptions,
} from '@nats-io/transport-node';
import { readFileSync } from 'node:fs';
import { readKeyFile } from '../config/files.js';
import type { Config } from '../config/schema.js';
import { isCertificateError, NatsConnectError } from '../errors.js';

/** The keys of the `nats` section that say where and how to connect. */
export type NatsConnectConfig = Pick<
  Config['nats'],
  'address' | 'tls' | 'user' | 'password' | 'token' | 'nkeySeedFile' | 'credsFile'
>;

/** The options this module sets. */
export type NatsClientOptions = Pick<
  NodeConnectionOptions,
  'servers' | 'tls' | 'user' | 'pass' | 'token' | 'authenticator'
>;

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/**
 * Maps the configuration to `connect()` options, reading the files it names with `readFile`.
 *
 * TLS is required (`tls` set) when `nats.tls` is present or an address is `tls://…`; it then
 * verifies the server against `nats.tls.ca` (or the CAs Node.js trusts) and presents
 * `nats.tls.cert` when set. Without it the client still upgrades when the server offers TLS.
 * Passwords and tokens come from the loader, which has already read `passwordFile` and
 * `tokenFile` into them.
 *
 * @throws ConfigError naming the key of a file that cannot be read or holds the wrong thing.
 */
export function natsConnectOptions(
  nats: NatsConnectConfig,
  readFile: (path: string) => string = defaultReadFile,
): NatsClientOptions {
  const options: NatsClientOptions = { servers: nats.address };
  const tlsUrl = nats.address.some((url) => url.toLowerCase().startsWith('tls://'));
  if (nats.tls !== undefined || tlsUrl) {
    const tls: NonNullable<NodeConnectionOptions['tls']> = {};
    if (nats.tls?.ca !== undefined) tls.ca = readKeyFile('nats.tls.ca', nats.tls.ca, 'certificate', readFile);
    if (nats.tls?.cert !== undefined && nats.tls.key !== undefined) {
      tls.cert = readKeyFile('nats.tls.cert', nats.tls.cert, 'certificate', readFile);
      tls.key = readKeyFile('nats.tls.key', nats.tls.key, 'private-key', readFile);
    }
    options.tls = tls;
  }
  if (nats.user !== undefined) {
    options.user = nats.user;
    if (nats.password !== undefined) options.pass = nats.password;
  } else if (nats.token !== undefined) {
    options.token = nats.token;
  } else if (nats.nkeySeedFile !== undefined) {
    const seed = readKeyFile('nats.nkeySeedFile', nats.nkeySeedFile, 'nkey-seed', readFile);
    options.authenticator = nkeyAuthenticator(new TextEncoder().encode(seed));
  } else if (nats.credsFile !== undefined) {
    const creds = readKeyFile('nats.credsFile', nats.credsFile, 'creds', readFile);
    options.authenticator = credsAuthenticator(new TextEncoder().encode(creds));
  }
  return options;
}

/** The messages of an error and its causes, joined by ": ", for one readable line. */
function causeMessages(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (e.message && !parts.includes(e.message)) parts.push(e.message);
  }
  return parts.join(': ') || String(err);
}

/** What nats-server says when it refuses credentials (`Authorization Violation`, `… authentication …`). */
const AUTH_FAILURE = /authorization violation|authentication/i;

/** `host:port` of a server address, without the user name, password or token it may carry. */
function serverOf(url: string): string {
  try {
    return new URL(url.includes('://') ? url : `nats://${url}`).host;
  } catch {
    return '(an invalid address)';
  }
}

/**
 * Wraps a failed first connection with a message that says what to check: the credentials for
 * an authorization error, `nats.tls.ca` for a certificate the client does not trust.
 */
export function natsConnectError(nats: Pick<Config['nats'], 'address'>, cause: unknown): NatsConnectError {
  const where = nats.address.map(serverOf).join(',');
  const detail = causeMessages(cause);
  let hint = '';
  if (AUTH_FAILURE.test(detail)) {
    hint =
      ': the server refused the credentials: check nats.user and nats.password (or nats.token, nats.nkeySeedFile, nats.credsFile)';
  } else if (isCertificateError(cause)) {
    hint = ": the server's certificate is not trusted: check nats.tls.ca and the address's host name";
  }
  return new NatsConnectError(`cannot connect to nats at ${where}${hint} (${detail})`, { cause });
}

/** True for a failure that waiting for the server cannot fix: refused credentials, an untrusted certificate. */
function isFatalConnectError(err: unknown): boolean {
  return isCertificateError(err) || AUTH_FAILURE.test(causeMessages(err));
}

/**
 * Connects to NATS; while no server answers, waits for one as `options.waitOnFirstConnect`
 * would. A first attempt does not wait, so that refused credentials or an untrusted certificate
 * stop the start at once with a {@link NatsConnectError} instead of being retried silently.
 */
export async function openNatsConnection(
  options: NodeConnectionOptions,
  nats: Pick<Config['nats'], 'address'>,
): Promise<NatsConnection> {
  try {
    return await connect({ ...options, waitOnFirstConnect: false });
  } catch (cause) {
    if (isFatalConnectError(cause)) throw natsConnectError(nats, cause);
  }
  return connect({ ...options, waitOnFirstConnect: true }).catch((cause: unknown) => {
    throw natsConnectError(nats, cause);
  });
}

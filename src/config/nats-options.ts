/**
 * The `nats` section as `@nats-io/transport-node` `connect()` options: servers, TLS and
 * authentication. Connection behaviour (name, reconnects) is left to the caller, and the first
 * connection to `sink/nats-connection.ts`.
 */
import { credsAuthenticator, nkeyAuthenticator, type NodeConnectionOptions } from '@nats-io/transport-node';
import { readKeyFile, readTextFile, type ReadFile } from './files.js';
import type { Config } from './schema.js';

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
  readFile: ReadFile = readTextFile,
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

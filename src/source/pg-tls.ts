/**
 * `database.sslMode` and its files as node-postgres `ssl` options, for both connections (SQL and
 * replication). The mapping is libpq's:
 *
 * - `disable`: no TLS (`ssl: false`, so node-postgres does not read `PGSSLMODE` itself);
 * - `require`: encrypted, the server's certificate is not verified;
 * - `verify-ca`: the certificate chain is verified against `sslRootCert` (or the CAs Node.js
 *   trusts), the host name is not;
 * - `verify-full`: the chain and the host name (or IP address) are verified.
 */
import type { ConnectionOptions } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { readKeyFile } from '../config/files.js';

/** The `ssl` option of a node-postgres client: off, or the options of `tls.connect`. */
export type PgSsl = false | ConnectionOptions;

/** The TLS keys of the `database` section. */
export type PgTlsConfig = Pick<Config['database'], 'sslMode' | 'sslRootCert' | 'sslCert' | 'sslKey'>;

function defaultReadFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/**
 * Maps the TLS keys to node-postgres `ssl` options, reading the files they name with `readFile`.
 *
 * @throws ConfigError naming the key of a file that cannot be read or holds the wrong thing.
 */
export function pgSslOptions(db: PgTlsConfig, readFile: (path: string) => string = defaultReadFile): PgSsl {
  if (db.sslMode === 'disable') return false;
  const ssl: ConnectionOptions = { rejectUnauthorized: db.sslMode !== 'require' };
  if (db.sslMode === 'verify-ca') {
    // The chain is still verified (rejectUnauthorized); only the name check is skipped.
    ssl.checkServerIdentity = () => undefined;
  }
  if (db.sslRootCert !== undefined && db.sslMode !== 'require') {
    ssl.ca = readKeyFile('database.sslRootCert', db.sslRootCert, 'certificate', readFile);
  }
  if (db.sslCert !== undefined && db.sslKey !== undefined) {
    ssl.cert = readKeyFile('database.sslCert', db.sslCert, 'certificate', readFile);
    ssl.key = readKeyFile('database.sslKey', db.sslKey, 'private-key', readFile);
  }
  return ssl;
}

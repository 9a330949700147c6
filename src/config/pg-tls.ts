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
import type { PgSsl } from '../source/replication-connection.js';
import { readKeyFile, readTextFile, type ReadFile } from './files.js';
import type { Config } from './schema.js';

/** The TLS keys of the `database` section. */
export type PgTlsConfig = Pick<Config['database'], 'sslMode' | 'sslRootCert' | 'sslCert' | 'sslKey'>;

/**
 * Maps the TLS keys to node-postgres `ssl` options, reading the files they name with `readFile`.
 *
 * @throws ConfigError naming the key of a file that cannot be read or holds the wrong thing.
 */
export function pgSslOptions(db: PgTlsConfig, readFile: ReadFile = readTextFile): PgSsl {
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

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import { ConfigError } from '../../src/errors.js';
import { pgSslOptions, type PgTlsConfig } from '../../src/config/pg-tls.js';

const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n';
const FILES: Record<string, string> = { '/ca.pem': CA, '/client.pem': CERT, '/client.key': KEY };

function readFile(path: string): string {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return text;
}

/** A certificate for another host, as tls.checkServerIdentity sees it. */
const OTHER_HOST = { subject: { CN: 'elsewhere.example' }, subjectaltname: 'DNS:elsewhere.example' };

describe('pgSslOptions', () => {
  it('disable turns TLS off explicitly, so node-postgres never reads PGSSLMODE itself', () => {
    assert.equal(pgSslOptions({ sslMode: 'disable' }, readFile), false);
  });

  it('require encrypts without verifying the server', () => {
    assert.deepEqual(pgSslOptions({ sslMode: 'require' }, readFile), { rejectUnauthorized: false });
  });

  it('verify-ca verifies the chain against sslRootCert but not the host name', () => {
    const ssl = pgSslOptions({ sslMode: 'verify-ca', sslRootCert: '/ca.pem' }, readFile);
    assert.ok(ssl);
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(ssl.ca, CA);
    assert.equal(ssl.checkServerIdentity?.('127.0.0.1', OTHER_HOST as PeerCertificate), undefined);
  });

  it('verify-full verifies the chain and leaves the host name check to Node.js', () => {
    const ssl = pgSslOptions({ sslMode: 'verify-full', sslRootCert: '/ca.pem' }, readFile);
    assert.deepEqual(ssl, { rejectUnauthorized: true, ca: CA });
  });

  it('verify-full without sslRootCert trusts the CAs Node.js trusts', () => {
    assert.deepEqual(pgSslOptions({ sslMode: 'verify-full' }, readFile), { rejectUnauthorized: true });
  });

  it('presents the client certificate and key', () => {
    const db: PgTlsConfig = { sslMode: 'require', sslCert: '/client.pem', sslKey: '/client.key' };
    assert.deepEqual(pgSslOptions(db, readFile), { rejectUnauthorized: false, cert: CERT, key: KEY });
  });

  it('reports a file that is gone as a ConfigError naming the key', () => {
    assert.throws(
      () => pgSslOptions({ sslMode: 'verify-full', sslRootCert: '/gone.pem' }, readFile),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [
          {
            path: 'database.sslRootCert',
            message: 'cannot read "/gone.pem" (ENOENT): check the path and its permissions',
          },
        ]);
        return true;
      },
    );
    assert.throws(
      () => pgSslOptions({ sslMode: 'require', sslCert: '/client.pem', sslKey: '/ca.pem' }, readFile),
      /database\.sslKey: "\/ca\.pem" holds no PEM private key/,
    );
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, NatsConnectError } from '../../src/errors.js';
import { natsConnectOptions, type NatsConnectConfig } from '../../src/config/nats-options.js';
import { natsConnectError } from '../../src/sink/nats-connection.js';

const CA = '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n';
const CERT = '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n';
const KEY = '-----BEGIN EC PRIVATE KEY-----\nKEY\n-----END EC PRIVATE KEY-----\n';
/** A throwaway user nkey, made for this test, and its public key. */
const SEED = 'SUAKQ5HE4RQZ5MBZXIEST5NKGZ3DPDTNAPPDGORZJ6CZAJ5IIQERQMEYUE';
const PUBLIC_KEY = 'UDG5TUDYMGA4R4RSWROEUT7OQS7RQHQJIAIUNUUZMK3ZZLVK3CQVMWAK';
const JWT = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln';
const CREDS = `-----BEGIN NATS USER JWT-----\n${JWT}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n${SEED}\n------END USER NKEY SEED------\n`;

const FILES: Record<string, string> = {
  '/ca.pem': CA,
  '/c.pem': CERT,
  '/c.key': KEY,
  '/user.nk': `${SEED}\n`,
  '/user.creds': CREDS,
};

function readFile(path: string): string {
  const text = FILES[path];
  if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return text;
}

const PLAIN: NatsConnectConfig = { address: ['nats://n1:4222', 'n2:4222'] };

/** What an authenticator answers to a server nonce. */
function authenticate(options: ReturnType<typeof natsConnectOptions>): Record<string, unknown> {
  const auth = options.authenticator;
  assert.ok(typeof auth === 'function', 'an authenticator is set');
  return auth('nonce') as unknown as Record<string, unknown>;
}

describe('natsConnectOptions', () => {
  it('passes the servers and sets no TLS or credentials by default', () => {
    assert.deepEqual(natsConnectOptions(PLAIN, readFile), { servers: ['nats://n1:4222', 'n2:4222'] });
  });

  it('requires TLS for a tls section, with the CA and client certificate read from their files', () => {
    const options = natsConnectOptions(
      { ...PLAIN, tls: { ca: '/ca.pem', cert: '/c.pem', key: '/c.key' } },
      readFile,
    );
    assert.deepEqual(options.tls, { ca: CA, cert: CERT, key: KEY });
    assert.deepEqual(natsConnectOptions({ ...PLAIN, tls: {} }, readFile).tls, {});
  });

  it('requires TLS for a tls:// address, trusting the CAs Node.js trusts', () => {
    assert.deepEqual(natsConnectOptions({ address: ['tls://n1:4222'] }, readFile).tls, {});
  });

  it('maps user and password, and a token', () => {
    const user = natsConnectOptions({ ...PLAIN, user: 'svc', password: 'pw' }, readFile);
    assert.deepEqual([user.user, user.pass, user.token], ['svc', 'pw', undefined]);
    const token = natsConnectOptions({ ...PLAIN, token: 'tok' }, readFile);
    assert.deepEqual([token.user, token.token], [undefined, 'tok']);
  });

  it('signs the nonce with the nkey seed', () => {
    const answer = authenticate(natsConnectOptions({ ...PLAIN, nkeySeedFile: '/user.nk' }, readFile));
    assert.equal(answer['nkey'], PUBLIC_KEY);
    assert.equal(typeof answer['sig'], 'string');
  });

  it('sends the JWT of the creds file and signs with its seed', () => {
    const answer = authenticate(natsConnectOptions({ ...PLAIN, credsFile: '/user.creds' }, readFile));
    assert.equal(answer['jwt'], JWT);
    assert.equal(typeof answer['sig'], 'string');
  });

  it('reports a file that is gone as a ConfigError naming the key', () => {
    assert.throws(
      () => natsConnectOptions({ ...PLAIN, tls: { ca: '/gone.pem' } }, readFile),
      (err: unknown) => err instanceof ConfigError && err.problems[0]?.path === 'nats.tls.ca',
    );
    assert.throws(
      () => natsConnectOptions({ ...PLAIN, nkeySeedFile: '/c.key' }, readFile),
      /nats\.nkeySeedFile: "\/c\.key" holds no user nkey seed/,
    );
  });
});

describe('natsConnectError', () => {
  it('says to check the credentials when the server refuses them, without the URL secret', () => {
    const cause = Object.assign(new Error('Authorization Violation'), { name: 'AuthorizationError' });
    const err = natsConnectError({ address: ['nats://svc:hunter2-pw@n1:4222'] }, cause);
    assert.ok(err instanceof NatsConnectError);
    assert.equal(err.retryable, false);
    assert.match(err.message, /^cannot connect to nats at n1:4222: the server refused the credentials/);
    assert.ok(!err.message.includes('hunter2-pw'));
    assert.equal(err.cause, cause);
  });

  it("says to check nats.tls.ca when the server's certificate is not trusted", () => {
    const tls = Object.assign(new Error('self-signed certificate in certificate chain'), {
      code: 'SELF_SIGNED_CERT_IN_CHAIN',
    });
    const err = natsConnectError(
      { address: ['tls://n1:4222'] },
      new Error('connection failed', { cause: tls }),
    );
    assert.match(err.message, /certificate is not trusted: check nats\.tls\.ca/);
    assert.match(err.message, /self-signed certificate in certificate chain/);
  });
});

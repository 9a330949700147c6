/**
 * Throwaway certificates for TLS tests, made with the `openssl` command at test time: a CA, and
 * server or client certificates it signs (EC P-256, valid for a day). Nothing is checked in.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key: paths in the directory, and the PEM text. */
export interface CertPair {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

/** A directory of certificates, removed by `dispose()`. */
export interface CertDir {
  readonly dir: string;
  /** A self-signed CA named `name`. */
  ca(name: string): CertPair;
  /**
   * A certificate signed by `ca`, with `subjectAltName` entries such as `DNS:localhost` or
   * `IP:127.0.0.1`; `usage` sets the extended key usage.
   */
  issue(
    ca: CertPair,
    name: string,
    options: { cn: string; san?: string[]; usage: 'serverAuth' | 'clientAuth' },
  ): CertPair;
  dispose(): void;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? 'openssl not found; run scripts/ensure-deps.sh'
        : `openssl ${args[0] ?? ''} failed${stderr ? `: ${stderr}` : ''}`,
      { cause: error },
    );
  }
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes a temp directory for certificates. */
export function certDir(): CertDir {
  const dir = mkdtempSync(join(tmpdir(), 'pgwalstreams-certs-'));
  const pair = (name: string): CertPair => {
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  };
  return {
    dir,
    ca(name) {
      openssl(
        [
          'req',
          '-x509',
          ...KEY_ARGS,
          '-keyout',
          `${name}.key`,
          '-out',
          `${name}.crt`,
          '-days',
          '1',
          '-subj',
          `/CN=${name}`,
          '-addext',
          'basicConstraints=critical,CA:TRUE',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        dir,
      );
      return pair(name);
    },
    issue(ca, name, { cn, san = [], usage }) {
      openssl(
        ['req', ...KEY_ARGS, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`],
        dir,
      );
      const extensions = [
        'basicConstraints=CA:FALSE',
        'keyUsage=digitalSignature,keyEncipherment',
        `extendedKeyUsage=${usage}`,
        ...(san.length > 0 ? [`subjectAltName=${san.join(',')}`] : []),
      ];
      writeFileSync(join(dir, `${name}.ext`), `${extensions.join('\n')}\n`);
      openssl(
        [
          'x509',
          '-req',
          '-in',
          `${name}.csr`,
          '-CA',
          ca.certFile,
          '-CAkey',
          ca.keyFile,
          '-CAcreateserial',
          '-days',
          '1',
          '-extfile',
          `${name}.ext`,
          '-out',
          `${name}.crt`,
        ],
        dir,
      );
      return pair(name);
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The files that configuration keys name: passwords, certificates, keys, nkey seeds, creds.
 *
 * The loader reads each one to report a missing, unreadable or malformed file under its key
 * before anything connects; the code that builds client options at start reads them again with
 * {@link readKeyFile}, so a file removed in between is reported the same way.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { quote } from './tree.js';

/** Reads a file the configuration names, as UTF-8 text: how the files keys name are read outside tests. */
export type ReadFile = (path: string) => string;

/** The `ReadFile` of the service: the file system. */
export function readTextFile(path: string): string {
  return readFileSync(path, 'utf8');
}

/** What a file must hold. */
export const FILE_KINDS = ['secret', 'certificate', 'private-key', 'nkey-seed', 'creds'] as const;
/** One kind of file content. */
export type FileKind = (typeof FILE_KINDS)[number];

/** A configuration key that names a file. */
export interface FileKey {
  /** Dotted key path, such as `database.sslRootCert`. */
  readonly path: string;
  readonly segments: readonly string[];
  readonly kind: FileKind;
  /** For secrets: the key that holds the file's content after loading, such as `database.password`. */
  readonly into?: readonly string[];
}

function fileKey(path: string, kind: FileKind, into?: string): FileKey {
  return { path, segments: path.split('.'), kind, ...(into ? { into: into.split('.') } : {}) };
}

/** Every key that names a file, in schema order. */
export const FILE_KEYS: readonly FileKey[] = [
  fileKey('database.passwordFile', 'secret', 'database.password'),
  fileKey('database.sslRootCert', 'certificate'),
  fileKey('database.sslCert', 'certificate'),
  fileKey('database.sslKey', 'private-key'),
  fileKey('nats.tls.ca', 'certificate'),
  fileKey('nats.tls.cert', 'certificate'),
  fileKey('nats.tls.key', 'private-key'),
  fileKey('nats.passwordFile', 'secret', 'nats.password'),
  fileKey('nats.tokenFile', 'secret', 'nats.token'),
  fileKey('nats.nkeySeedFile', 'nkey-seed'),
  fileKey('nats.credsFile', 'creds'),
];

/** A file read for a key: the text to use, and the part of it to keep out of every message. */
export interface KeyFile {
  /** The content as it is used: a secret less one trailing newline, a seed trimmed, else as read. */
  text: string;
  /** The secret part of the content (password, token, seed), if any. */
  secret?: string;
}

/** A user nkey seed: `SU` and base32 (58 characters in all). */
const USER_SEED = /^SU[A-Z2-7]{56}$/;
const CREDS_JWT = /-----BEGIN NATS USER JWT-----/;
const CREDS_SEED = /-+BEGIN USER NKEY SEED-+\s*\n\s*(\S+)\s*\n\s*-+END USER NKEY SEED-+/;

/**
 * Reads the file `path` named by `key` and checks that it holds what the key needs.
 * Returns the content, or the problem to report under the key (never quoting the content).
 */
export function checkKeyFile(
  key: string,
  path: string,
  kind: FileKind,
  readFile: ReadFile,
): KeyFile | ConfigProblem {
  const problem = (message: string): ConfigProblem => ({
    path: key,
    message: `${quote(path)} ${message}`,
  });
  let content: string;
  try {
    content = readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    return {
      path: key,
      message: `cannot read ${quote(path)} (${code}): check the path and its permissions`,
    };
  }
  switch (kind) {
    case 'secret': {
      const text = content.replace(/\r?\n$/, '');
      if (text === '') return problem('is empty: put the secret in it');
      return { text, secret: text };
    }
    case 'certificate':
      return content.includes('-----BEGIN CERTIFICATE-----')
        ? { text: content }
        : problem('holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
    case 'private-key':
      return /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(content)
        ? { text: content }
        : problem('holds no PEM private key (-----BEGIN PRIVATE KEY-----)');
    case 'nkey-seed': {
      const text = content.trim();
      return USER_SEED.test(text)
        ? { text, secret: text }
        : problem('holds no user nkey seed: it must hold one line starting with SU');
    }
    case 'creds': {
      const seed = CREDS_SEED.exec(content)?.[1];
      if (!CREDS_JWT.test(content) || seed === undefined) {
        return problem('is not a NATS credentials file: it must hold a user JWT and a user nkey seed');
      }
      return { text: content, secret: seed };
    }
  }
}

/** True when {@link checkKeyFile} returned a problem. */
export function isProblem(result: KeyFile | ConfigProblem): result is ConfigProblem {
  return 'message' in result;
}

/**
 * Reads the file named by `key` at start, for building client options.
 *
 * @throws ConfigError naming the key when the file cannot be read or does not hold `kind`.
 */
export function readKeyFile(key: string, path: string, kind: FileKind, readFile: ReadFile): string {
  const result = checkKeyFile(key, path, kind, readFile);
  if (isProblem(result)) throw new ConfigError(`cannot use the file named by ${key}`, [result]);
  return result.text;
}

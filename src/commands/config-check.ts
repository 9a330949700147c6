/**
 * `pgwalstreams config check`: loads a configuration file exactly as the service does at start,
 * and says what is wrong with it or what the service would use.
 */
import { stringify } from 'yaml';
import type { CliIo } from '../cli.js';
import { loadConfig } from '../config/load.js';
import { natsConnectOptions } from '../config/nats-options.js';
import { pgSslOptions } from '../config/pg-tls.js';
import { redactConfig } from '../config/secrets.js';
import { ConfigError } from '../errors.js';

/** The outcome of a check: what to print where, and the exit status. */
export interface CheckResult {
  /** 0 when the configuration is valid, 2 when it is not. */
  status: 0 | 2;
  stdout: string;
  stderr: string;
}

/**
 * Loads `path` with the environment overrides, libpq fallbacks and secret files, then reads the
 * TLS and authentication files the way the connections will at start. Valid: `ok: <path>` and the
 * effective configuration as YAML, secrets redacted. Invalid: every problem with its key path.
 * Secrets never appear in either.
 */
export async function checkConfig(path: string, env: NodeJS.ProcessEnv): Promise<CheckResult> {
  try {
    const config = await loadConfig(path, env);
    pgSslOptions(config.database);
    natsConnectOptions(config.nats);
    const effective = stringify(redactConfig(config), { lineWidth: 0 });
    return { status: 0, stdout: `ok: ${path}\n${effective}`, stderr: '' };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { status: 2, stdout: '', stderr: `${err.message}\n` };
  }
}

/** `pgwalstreams config check`: prints the outcome of `checkConfig`; exit status 0, or 2 when invalid. */
export async function configCheckCommand(path: string, io: CliIo): Promise<number> {
  const result = await checkConfig(path, io.env);
  io.stdout.write(result.stdout);
  if (result.stderr) io.stderr.write(`pgwalstreams: ${result.stderr}`);
  return result.status;
}

/**
 * The few named errors of pgwalstreams.
 *
 * Each error says what the pipeline does next: `retryable` errors are retried with backoff
 * (a connection lost, a publish not acknowledged); the others stop the process with a clear
 * message and a non-zero exit (bad configuration, bad bytes, a missing privilege).
 */

/** Options shared by every pgwalstreams error. */
export interface ErrorOptions {
  cause?: unknown;
}

/** Base class: a message, an optional cause and whether a retry can help. */
export abstract class PgwalstreamsError extends Error {
  /** True when retrying the same work later can succeed. */
  abstract readonly retryable: boolean;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** One problem found in a configuration file, with the key path it concerns. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** The configuration is invalid; lists every problem at once. Fatal. */
export class ConfigError extends PgwalstreamsError {
  readonly retryable = false;
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, problems: readonly ConfigProblem[] = [], options?: ErrorOptions) {
    const detail = problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}`).join('\n');
    super(detail ? `${message}\n${detail}` : message, options);
    this.problems = problems;
  }
}

/** Bytes from the server that do not form a valid message. Fatal: the stream cannot be trusted. */
export class DecodeError extends PgwalstreamsError {
  readonly retryable = false;
  /** The message tag being decoded (a character such as `I`), or `frame` for the outer frame. */
  readonly tag: string;
  /** Byte offset inside the message where decoding failed. */
  readonly offset: number;

  constructor(message: string, tag: string, offset: number, options?: ErrorOptions) {
    super(`${message} (message ${JSON.stringify(tag)}, offset ${offset})`, options);
    this.tag = tag;
    this.offset = offset;
  }
}

/** PostgreSQL refused or lost the replication stream. Retryable unless the setup itself is wrong. */
export class ReplicationError extends PgwalstreamsError {
  readonly retryable: boolean;
  /** True when another connection holds the slot: this instance is a standby. */
  readonly slotBusy: boolean;

  constructor(message: string, options?: ErrorOptions & { retryable?: boolean; slotBusy?: boolean }) {
    super(message, options);
    this.retryable = options?.retryable ?? true;
    this.slotBusy = options?.slotBusy ?? false;
  }
}

/** JetStream did not store an event (no stream, no ack in time, an error reply). Retryable. */
export class PublishError extends PgwalstreamsError {
  readonly retryable = true;
  /** The subject the failed event was published to, when known. */
  readonly subject: string | undefined;

  constructor(message: string, options?: ErrorOptions & { subject?: string }) {
    super(message, options);
    this.subject = options?.subject;
  }
}

/** True when an error is known to be worth retrying; unknown errors count as retryable. */
export function isRetryable(err: unknown): boolean {
  return err instanceof PgwalstreamsError ? err.retryable : true;
}

/** The first connection to NATS failed (refused credentials, an untrusted certificate). Fatal. */
export class NatsConnectError extends PgwalstreamsError {
  readonly retryable = false;
}

/** The installed NATS client lacks what pgwalstreams needs of it (see `sink/nats-internals.ts`). Fatal. */
export class NatsClientError extends PgwalstreamsError {
  readonly retryable = false;
}

/** Node.js TLS error codes meaning that the peer's certificate was not accepted. */
const CERTIFICATE_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when `err`, or an error in its `cause` chain, says a server certificate was not trusted. */
export function isCertificateError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return true;
  }
  return false;
}

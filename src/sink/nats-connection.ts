/**
 * The first connection to NATS, with errors that say what to check: refused credentials and an
 * untrusted certificate stop the start; an unreachable server is waited for.
 */
import {
  connect,
  type NatsConnection,
  type NodeConnectionOptions,
  type Status,
} from '@nats-io/transport-node';
import { isCertificateError, NatsConnectError } from '../errors.js';

/** The NATS server addresses, as `nats.address` gives them. */
export interface NatsServers {
  address: readonly string[];
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
export function natsConnectError(nats: NatsServers, cause: unknown): NatsConnectError {
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
  nats: NatsServers,
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

const PING_MS = 1000;

/** What the link reports: each disconnect and reconnect, with the server. */
export interface NatsLinkListener {
  changed(up: boolean, server: string): void;
}

/**
 * Whether the NATS connection is up right now, kept from its status events, and a way to wait until
 * it is; the one reader of the connection's status events, which it hands on to whoever `watch`es.
 * Sessions start only on a live connection: nats.js drops what it queued while disconnected when
 * it reconnects, so nothing is published meanwhile.
 */
export class NatsLink {
  private connected = true;
  private readonly watchers = new Set<(s: Status) => void>();
  private answeredAt = Date.now();
  private pinging = false;
  private readonly pinger: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    listener: NatsLinkListener,
  ) {
    // A ping a second tells a server that holds the connection open but does not answer (paused,
    // overloaded) from one that works: readiness looks at `silentMs`.
    this.pinger = setInterval(() => this.ping(), PING_MS).unref();
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect' || s.type === 'reconnect') {
          this.connected = s.type === 'reconnect';
          this.answeredAt = Date.now();
          listener.changed(this.connected, s.server);
        }
        for (const watch of this.watchers) watch(s);
      }
    })();
  }

  get up(): boolean {
    return this.connected;
  }

  /** How long since the server last answered a ping (or the link came up), in ms. */
  silentMs(now = Date.now()): number {
    return this.connected ? now - this.answeredAt : 0;
  }

  private ping(): void {
    if (this.pinging || !this.connected || this.nc.isClosed()) return;
    this.pinging = true;
    this.nc.flush().then(
      () => {
        this.answeredAt = Date.now();
        this.pinging = false;
      },
      () => {
        this.pinging = false;
      },
    );
  }

  /** Stops the pings. */
  close(): void {
    clearInterval(this.pinger);
  }

  /** Calls `watcher` with every status event from now on, until the returned function is called. */
  watch(watcher: (s: Status) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  /** Resolves true once the connection is up, or false after `timeoutMs`. */
  async waitUp(timeoutMs: number): Promise<boolean> {
    if (this.connected) return true;
    return new Promise<boolean>((resolve) => {
      const done = (up: boolean) => {
        clearTimeout(timer);
        unwatch();
        resolve(up);
      };
      const unwatch = this.watch((s) => s.type === 'reconnect' && done(true));
      const timer = setTimeout(() => done(false), timeoutMs).unref();
    });
  }
}

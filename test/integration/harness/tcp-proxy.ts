/**
 * A TCP proxy for fault injection: it listens on 127.0.0.1 on a free port and forwards every
 * connection to a target (a PostgreSQL or a nats-server of the harness), byte for byte, both ways.
 * A test points the service at the proxy instead of the server and can then
 *
 * - `cut()` every open connection at once: both sides are reset and destroyed, as a broken network
 *   path or a dying load balancer would end them; the target and the client each see their
 *   connection fail, and nothing still buffered in the proxy is delivered;
 * - `refuse()` new connections until `accept()`: each one is reset as soon as it is accepted, so a
 *   client that reconnects meets a failure at once rather than a hang.
 *
 * A connection to a target that is down is reset too, so the client sees what it would see
 * connecting to the target itself.
 */
import { createServer, type Server, type Socket, connect } from 'node:net';
import { freePort } from './wait.js';

/** Where the proxy forwards to. */
export interface ProxyTarget {
  host: string;
  port: number;
}

/** A running proxy. */
export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Connections open now (each one a client and its upstream). */
  readonly openConnections: number;
  /** Connections accepted and forwarded since the start. */
  readonly forwardedConnections: number;
  /** Connections reset because the proxy was refusing them. */
  readonly refusedConnections: number;
  /** True between `refuse()` and `accept()`. */
  readonly refusing: boolean;
  /** Resets and destroys every open connection, both sides; returns how many there were. */
  cut(): number;
  /** Resets every new connection until `accept()`; open ones are left as they are. */
  refuse(): void;
  /** Forwards new connections again. */
  accept(): void;
  /** Cuts every connection and stops listening. */
  close(): Promise<void>;
}

const HOST = '127.0.0.1';
const PORT_ATTEMPTS = 3;

/** Starts a proxy to `target` on a free port of 127.0.0.1. */
export async function startTcpProxy(target: ProxyTarget): Promise<TcpProxy> {
  for (let attempt = 1; ; attempt++) {
    const proxy = new Proxy(target);
    try {
      await proxy.listen(await freePort());
      return proxy;
    } catch (error) {
      if (attempt >= PORT_ATTEMPTS || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
}

/** A client connection and the connection to the target made for it. */
interface Pair {
  client: Socket;
  upstream: Socket;
}

class Proxy implements TcpProxy {
  readonly host = HOST;
  port = 0;
  forwardedConnections = 0;
  refusedConnections = 0;
  refusing = false;
  private readonly pairs = new Set<Pair>();
  private readonly server: Server;

  constructor(private readonly target: ProxyTarget) {
    this.server = createServer({ noDelay: true }, (client) => this.onConnection(client));
  }

  get openConnections(): number {
    return this.pairs.size;
  }

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, HOST, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = port;
  }

  cut(): number {
    const pairs = [...this.pairs];
    for (const pair of pairs) this.drop(pair);
    return pairs.length;
  }

  refuse(): void {
    this.refusing = true;
  }

  accept(): void {
    this.refusing = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: Socket): void {
    client.on('error', () => undefined);
    if (this.refusing) {
      this.refusedConnections++;
      reset(client);
      return;
    }
    this.forwardedConnections++;
    const upstream = connect({ host: this.target.host, port: this.target.port, noDelay: true });
    upstream.on('error', () => undefined);
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    // Whichever side closes first ends the other: a proxy never keeps half a connection. A clean
    // close is passed on cleanly (what was written still arrives), a failed one as a reset.
    client.once('close', (hadError) => this.release(pair, upstream, hadError));
    upstream.once('close', (hadError) => this.release(pair, client, hadError));
    client.pipe(upstream);
    upstream.pipe(client);
  }

  /** One side of `pair` closed: ends `other` as that side ended. */
  private release(pair: Pair, other: Socket, hadError: boolean): void {
    if (!this.pairs.delete(pair)) return;
    if (hadError) reset(other);
    else other.destroySoon();
  }

  private drop(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    reset(pair.client);
    reset(pair.upstream);
  }
}

/** Ends a socket with a TCP reset (no orderly FIN), dropping whatever it still buffers. */
function reset(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

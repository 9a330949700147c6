/**
 * The HTTP endpoints for the orchestrator and for Prometheus:
 * `/healthz` (liveness: the process and its event loop answer; never fails because PostgreSQL or
 * NATS is down, so an outage does not restart the pod), `/readyz` (replicating and connected to
 * NATS; false while a standby), `/metrics` (Prometheus text format).
 */
import { createServer, type Server } from 'node:http';
import type { Metrics } from './metrics.js';

/** Whether the service is ready, and why not. */
export type Readiness = () => { ready: boolean; reason: string };

/** Starts the HTTP server on `port` (all interfaces); resolves once it listens. */
export async function startHttpServer(port: number, metrics: Metrics, readiness: Readiness): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const { ready, reason } = readiness();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${reason}\n`);
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res
        .writeHead(404, { 'content-type': 'text/plain' })
        .end('not found: try /healthz, /readyz or /metrics\n');
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => resolve());
  });
  server.unref();
  return server;
}

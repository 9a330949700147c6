/**
 * The harness's TCP proxy, which the chaos suite puts between pgwalstreams and its servers:
 * it forwards bytes both ways, passes a clean close on, cuts every connection at once with a
 * reset on both sides, refuses new connections while told to, and resets a connection to a
 * target that is down. The target here is a plain TCP echo server: the proxy knows no protocol.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { startTcpProxy, type TcpProxy } from './harness/tcp-proxy.js';
import { freePort, waitFor } from './harness/wait.js';

/** A client connection through the proxy, with what it has received and how it ended. */
interface Client {
  socket: Socket;
  received: () => string;
  closed: Promise<{ error: string | undefined }>;
}

/** Resolves when `socket` has closed, whether with an error or not (`once` would reject on 'error'). */
function closeOf(socket: Socket): Promise<void> {
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

async function connectClient(proxy: TcpProxy): Promise<Client> {
  const socket = connect({ host: proxy.host, port: proxy.port });
  let text = '';
  let error: string | undefined;
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = closeOf(socket).then(() => ({ error }));
  await once(socket, 'connect');
  return { socket, received: () => text, closed };
}

async function roundTrip(client: Client, text: string): Promise<void> {
  const before = client.received().length;
  client.socket.write(text);
  await waitFor(() => client.received().length >= before + text.length, { what: `echo of ${text}` });
  assert.equal(client.received().slice(before), text);
}

describe('tcp proxy', () => {
  let echo: Server;
  let echoPort: number;
  /** The echo server's side of each connection, to see it end. */
  const serverSides: Socket[] = [];
  let proxy: TcpProxy;

  before(async () => {
    echo = createServer((socket) => {
      serverSides.push(socket);
      socket.on('error', () => undefined);
      socket.pipe(socket);
    });
    echoPort = await freePort();
    echo.listen(echoPort, '127.0.0.1');
    await once(echo, 'listening');
    proxy = await startTcpProxy({ host: '127.0.0.1', port: echoPort });
  });

  after(async () => {
    await proxy?.close();
    for (const socket of serverSides) socket.destroy();
    echo?.close();
  });

  test('forwards bytes both ways and passes a clean close on', async () => {
    // GIVEN a client connected through the proxy
    const client = await connectClient(proxy);
    // WHEN it writes, THEN the target's echo comes back through the proxy
    await roundTrip(client, 'hello');
    await roundTrip(client, 'x'.repeat(200_000));
    assert.equal(proxy.openConnections, 1);
    // WHEN it closes cleanly, THEN the connection ends without an error on either side
    const server = serverSides.at(-1)!;
    const serverClosed = closeOf(server);
    client.socket.end();
    assert.deepEqual(await client.closed, { error: undefined });
    await serverClosed;
    await waitFor(() => proxy.openConnections === 0, { what: 'the proxy to forget the connection' });
  });

  test('cut() resets every open connection on both sides at once, and new ones work after it', async () => {
    // GIVEN two clients connected through the proxy
    const first = await connectClient(proxy);
    const second = await connectClient(proxy);
    await roundTrip(first, 'one');
    await roundTrip(second, 'two');
    const serverEnds = serverSides.slice(-2).map(closeOf);
    // WHEN the proxy cuts
    assert.equal(proxy.cut(), 2);
    // THEN both clients see a reset, and the target's sides are closed too
    assert.deepEqual(await first.closed, { error: 'ECONNRESET' });
    assert.deepEqual(await second.closed, { error: 'ECONNRESET' });
    await Promise.all(serverEnds);
    assert.equal(proxy.openConnections, 0);
    // AND a new connection is forwarded as before
    const third = await connectClient(proxy);
    await roundTrip(third, 'three');
    third.socket.destroy();
  });

  test('refuse() resets new connections until accept(), and leaves open ones alone', async () => {
    // GIVEN an open connection
    const open = await connectClient(proxy);
    const refusedBefore = proxy.refusedConnections;
    // WHEN the proxy refuses
    proxy.refuse();
    // THEN a new connection is reset at once, and the open one still works
    const refused = connect({ host: proxy.host, port: proxy.port });
    refused.on('error', () => undefined);
    await closeOf(refused);
    assert.equal(proxy.refusedConnections, refusedBefore + 1);
    await roundTrip(open, 'still here');
    // WHEN it accepts again, THEN new connections are forwarded
    proxy.accept();
    const later = await connectClient(proxy);
    await roundTrip(later, 'back');
    open.socket.destroy();
    later.socket.destroy();
  });

  test('a connection to a target that is down is reset', async () => {
    // GIVEN a proxy whose target does not listen
    const nowhere = await startTcpProxy({ host: '127.0.0.1', port: await freePort() });
    try {
      // WHEN a client connects, THEN its connection is accepted and then ended with an error
      const client = connect({ host: nowhere.host, port: nowhere.port });
      let failed = false;
      client.on('error', () => (failed = true));
      await closeOf(client);
      assert.ok(failed, 'the client sees its connection fail');
      assert.equal(nowhere.openConnections, 0);
    } finally {
      await nowhere.close();
    }
  });
});

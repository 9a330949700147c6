/**
 * The parts of nats.js that pgwalstreams uses outside its documented API, all in this module.
 *
 * - `protocol.sendCommand` and `protocol.flushPending` of a connection: the command queue. Bytes
 *   given to it go out in order with the client's own commands and are held while the connection
 *   is down, as `publish()` does with its frames; the sink hands it whole batches of `HPUB` frames.
 *   Required: `natsInternals` refuses a connection without them, before anything is published.
 * - `_msg.subject` of a received message: the subject's bytes, which nats.js decodes into a string
 *   only when `subject` is read. Optional: `replySubjectBytes` returns undefined without them and
 *   the caller reads the string instead.
 *
 * `@nats-io/transport-node` is pinned to an exact version in package.json;
 * `test/integration/nats-internals.test.ts` checks these parts on a real connection, so an upgrade
 * that moves them fails there rather than in production.
 */
import type { Msg, NatsConnection } from '@nats-io/transport-node';
import { NatsClientError } from '../errors.js';
import type { SendBytes } from './hpub-batch.js';

/** What the sink needs of a connection beyond nats.js's documented API. */
export interface NatsInternals {
  /** The connection's command queue. */
  send: SendBytes;
}

interface ProtocolParts {
  sendCommand?: unknown;
  flushPending?: unknown;
}

/**
 * The internals of `nc`, checked: a client without them is refused with a `NatsClientError`,
 * which stops the service (it is not retried).
 */
export function natsInternals(nc: NatsConnection): NatsInternals {
  const protocol = (nc as unknown as { protocol?: ProtocolParts }).protocol;
  const sendCommand = protocol?.sendCommand;
  const flushPending = protocol?.flushPending;
  if (typeof sendCommand !== 'function' || typeof flushPending !== 'function') {
    throw new NatsClientError(
      'the installed NATS client (@nats-io/transport-node) has no protocol.sendCommand and flushPending, ' +
        'which pgwalstreams writes its batches through: install the version pinned in package.json (npm ci)',
    );
  }
  const write = sendCommand as (cmd: Uint8Array) => void;
  const flush = flushPending as () => void;
  return {
    send: (bytes) => {
      write.call(protocol, bytes);
      flush.call(protocol);
    },
  };
}

/** The subject of a received message as the bytes nats.js keeps, or undefined when it keeps none. */
export function replySubjectBytes(msg: Msg): Uint8Array | undefined {
  const bytes = (msg as unknown as { _msg?: { subject?: unknown } })._msg?.subject;
  return bytes instanceof Uint8Array ? bytes : undefined;
}

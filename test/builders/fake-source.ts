/**
 * A replication source for unit tests of a session: the test writes the walsender's side (frames
 * built with the pgoutput and frame writers) and reads what the session sent back. Like a socket,
 * it holds frames back while the session has paused it.
 */
import type { ReplicationError } from '../../src/errors.js';
import type { StandbyPositions } from '../../src/source/frames.js';
import type { FlushLsn } from '../../src/source/lsn.js';
import type { ReplicationListener, ReplicationSource } from '../../src/source/replication-source.js';
import type { ReadTypes } from '../../src/source/type-catalog.js';
import type { TypeInfo } from '../../src/source/type-info.js';
import { encodeKeepalive, encodeXLogData } from './frame-writer.js';
import { encodePgoutput } from './pgoutput-writer.js';
import type { PlainMessage } from './tuples.js';

/** A status update the session sent. */
export interface SentStatus extends StandbyPositions {
  replyRequested: boolean;
}

/** The walsender's side of one session. */
export class FakeSource implements ReplicationSource {
  readonly systemId = '7300000000000000001';
  readonly created = { slot: false, publication: false };
  readonly exported = null;
  readonly statuses: SentStatus[] = [];
  /** Type OIDs the session asked the catalog for, one list per read. */
  readonly typeReads: number[][] = [];
  paused = false;
  closed = false;
  private listener: ReplicationListener | null = null;
  private readonly held: Buffer[] = [];
  private walPosition: bigint;

  constructor(
    readonly start: FlushLsn,
    private readonly catalog: ReadonlyMap<number, TypeInfo> = new Map(),
  ) {
    this.walPosition = start;
  }

  /** The fake slot is always the session's. */
  holdSlot(): Promise<void> {
    return Promise.resolve();
  }

  /** True once the session started streaming. */
  get streaming(): boolean {
    return this.listener !== null;
  }

  /** The flush LSN of the last status update, or undefined before the first. */
  get lastFlush(): bigint | undefined {
    return this.statuses.at(-1)?.flush;
  }

  readonly readTypes: ReadTypes = (oids) => {
    this.typeReads.push([...oids]);
    return Promise.resolve(new Map([...this.catalog].filter(([oid]) => oids.includes(oid))));
  };

  stream(listener: ReplicationListener): void {
    this.listener = listener;
  }

  sendStatus(positions: StandbyPositions, replyRequested: boolean): void {
    this.statuses.push({ ...positions, replyRequested });
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.deliver();
  }

  close(): Promise<void> {
    this.closed = true;
    this.listener = null;
    return Promise.resolve();
  }

  /** Sends pgoutput messages, each in an XLogData frame at the next WAL position. */
  send(...messages: PlainMessage[]): void {
    for (const msg of messages) {
      this.walPosition += 0x10n;
      const data = encodePgoutput(msg);
      this.held.push(
        encodeXLogData({ walStart: this.walPosition, walEnd: this.walPosition, sendTime: 0n, data }),
      );
    }
    this.deliver();
  }

  /** Sends a keepalive at `walEnd` that asks for a status update at once. */
  keepalive(walEnd: bigint): void {
    this.held.push(encodeKeepalive({ walEnd, sendTime: 0n, replyRequested: true }));
    this.deliver();
  }

  /**
   * Asks for a status update, with a keepalive at the start position (which never moves the
   * flush LSN), and returns the flush LSN the session sent.
   */
  askStatus(): bigint | undefined {
    this.keepalive(this.start);
    return this.lastFlush;
  }

  /** The server ends the stream with `err`. */
  end(err: ReplicationError): void {
    this.listener?.closed(err);
  }

  /** Frames not yet delivered because the session paused reading. */
  get waiting(): number {
    return this.held.length;
  }

  private deliver(): void {
    while (!this.paused && this.listener && this.held.length > 0) this.listener.frame(this.held.shift()!);
  }
}

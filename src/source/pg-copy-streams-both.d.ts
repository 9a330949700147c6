// Type declarations for pg-copy-streams' both(), which its published types leave out.
import type { Connection, Submittable } from 'pg';
import type { Duplex, DuplexOptions } from 'node:stream';

declare module 'pg-copy-streams' {
  /** A CopyBoth query: read CopyData frames from the server, write CopyData frames to it. */
  export class CopyBothQueryStream extends Duplex implements Submittable {
    text: string;
    submit(connection: Connection): void;
  }
  /** Starts a CopyBoth query; with `alignOnCopyDataFrame` every chunk read is one CopyData payload. */
  export function both(
    txt: string,
    options?: DuplexOptions & { alignOnCopyDataFrame?: boolean },
  ): CopyBothQueryStream;
}

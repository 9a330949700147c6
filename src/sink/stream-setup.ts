/**
 * Optional creation of the JetStream stream at start-up (`nats.stream` in the configuration).
 *
 * Streams are normally made outside pgwalstreams (NACK in Kubernetes). When the configuration
 * names one, it is created if missing; an existing stream is left as it is.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { PublishError } from '../errors.js';

/** The stream to create when missing. */
export interface StreamSettings {
  name: string;
  subjects: string[];
  storage: 'file' | 'memory';
  duplicateWindowMs: number;
  replicas: number;
}

/** Creates the stream unless it exists. Returns true when it was created. */
export async function ensureStream(nc: NatsConnection, s: StreamSettings): Promise<boolean> {
  try {
    const jsm = await jetstreamManager(nc);
    try {
      await jsm.streams.info(s.name);
      return false;
    } catch (err) {
      if (!(err instanceof JetStreamApiError) || err.code !== JetStreamApiCodes.StreamNotFound) throw err;
    }
    const config: Partial<StreamConfig> & { name: string } = {
      name: s.name,
      subjects: s.subjects,
      storage: s.storage === 'memory' ? StorageType.Memory : StorageType.File,
      duplicate_window: s.duplicateWindowMs * 1_000_000, // nanoseconds
      num_replicas: s.replicas,
    };
    await jsm.streams.add(config);
    return true;
  } catch (cause) {
    throw new PublishError(`could not check or create jetstream stream ${s.name}`, { cause });
  }
}

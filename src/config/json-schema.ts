/**
 * The JSON Schema of the configuration file, for editors (YAML language servers) to complete and
 * check what is written. Derived from the zod schema's input side: durations accept text or
 * numbers, actions any case, and so on.
 */
import * as z from 'zod';
import { configSchema } from './schema.js';

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Drops `required` at every depth: any key may come from an environment variable instead. */
function dropRequired(node: unknown): void {
  if (Array.isArray(node)) {
    for (const item of node) dropRequired(item);
  } else if (isObject(node)) {
    delete node['required'];
    for (const value of Object.values(node)) dropRequired(value);
  }
}

/**
 * The JSON Schema (draft 7, without `$schema` or `$id`) of what a configuration file may hold.
 *
 * Nothing is marked required, because every key, `database.name` and `database.user` included,
 * may be set by an environment variable instead. Rules that span keys (one NATS authentication
 * method, `sslCert` with `sslKey`) and the checks of names and subjects are left to
 * `pgwalstreams config check`.
 */
export function configJsonSchema(): JsonObject {
  const generated = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-07' }) as JsonObject;
  const { $schema: _schema, $id: _id, ...body } = generated;
  dropRequired(body);
  return {
    title: 'pgwalstreams configuration',
    description:
      'Configuration file of pgwalstreams (PostgreSQL logical replication to NATS JetStream). ' +
      'Every key may also be set by an environment variable PGWALSTREAMS_<PATH>; ' +
      'check a file with `pgwalstreams config check <file>`.',
    ...body,
  };
}

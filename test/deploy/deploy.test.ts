/**
 * Offline checks of the deploy files: Kubernetes manifests, NACK resources, chart values, the Helm
 * chart, k3d, okteto, docker-compose and the Dockerfile. No cluster, helm or network: schemas are
 * vendored in test/fixtures, `kubectl kustomize` runs only when kubectl is on PATH.
 *
 * Each check is a function returning its problems, run on the real file (no problems expected) and
 * on a deliberately broken copy (the problem expected), so that no check passes by not looking.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { default as ajvFormats } from 'ajv-formats';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { parseDuration, type Config } from '../../src/config/schema.js';

/** The repository root; this file runs from dist/test/deploy/. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(ROOT, 'test/fixtures');

type Doc = Record<string, unknown>;

function read(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function isMapping(value: unknown): value is Doc {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value at a dotted path, or undefined. */
function at(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (!isMapping(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Every document of a YAML text; throws on a syntax error or a warning (such as a duplicate key). */
function parseDocs(text: string, name: string): Doc[] {
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false });
  if (!Array.isArray(docs)) throw new Error(`${name}: not YAML documents`);
  const out: Doc[] = [];
  for (const doc of docs) {
    const issues = [...doc.errors, ...doc.warnings];
    if (issues.length > 0) throw new Error(`${name}: ${issues.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (!isMapping(value)) throw new Error(`${name}: a document is not a mapping`);
    out.push(value);
  }
  return out;
}

function docsOf(path: string): Doc[] {
  return parseDocs(read(path), path);
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Every YAML file under a directory, repository-relative, Helm templates left out. */
function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (/^deploy\/helm\/[^/]+\/templates$/.test(path)) continue;
      out.push(...yamlFiles(path));
    } else if (/\.ya?ml$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Core kinds: kubernetes-models validation, plus unknown fields.

interface CoreModel {
  new (data: never): { validate(): void };
  prototype: { validate(): void };
}

const CORE_KINDS: Record<string, CoreModel> = {
  'v1/ConfigMap': ConfigMap as unknown as CoreModel,
  'v1/Secret': Secret as unknown as CoreModel,
  'v1/Service': Service as unknown as CoreModel,
  'v1/ServiceAccount': ServiceAccount as unknown as CoreModel,
  'apps/v1/Deployment': Deployment as unknown as CoreModel,
};

/**
 * The fields of `data` that the kind's schema does not know. kubernetes-models' precompiled
 * validators accept unknown fields, so this watches what the validator reads: it reads every
 * property its schema names, and enumerates only free-form maps (labels, data). A key of an object
 * it inspected but neither read nor enumerated is unknown to the schema.
 */
function unknownFields(model: CoreModel, data: Doc): string[] {
  const seen = new Map<object, { read: Set<PropertyKey>; enumerated: boolean }>();
  const proxies = new Map<object, object>();
  const wrap = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    const existing = proxies.get(value);
    if (existing) return existing;
    const info = { read: new Set<PropertyKey>(), enumerated: false };
    seen.set(value, info);
    const proxy = new Proxy(value, {
      get(target, key) {
        info.read.add(key);
        return wrap(Reflect.get(target, key));
      },
      has(target, key) {
        info.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        info.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  try {
    model.prototype.validate.call(wrap(data));
  } catch {
    // Schema errors are reported by coreProblems; only the reads matter here.
  }
  const problems: string[] = [];
  const walk = (value: unknown, path: string): void => {
    if (Array.isArray(value)) {
      value.forEach((item, i) => walk(item, `${path}[${i}]`));
      return;
    }
    if (!isMapping(value)) return;
    const info = seen.get(value);
    if (!info) return; // never inspected: a free-form value
    for (const [key, child] of Object.entries(value)) {
      if (info.enumerated || info.read.has(key)) walk(child, `${path}.${key}`);
      else problems.push(`${path}.${key}: unknown field`);
    }
  };
  walk(data, '');
  return problems;
}

function coreProblems(doc: Doc): string[] {
  const model = CORE_KINDS[`${String(doc.apiVersion)}/${String(doc.kind)}`];
  if (!model) return [`${String(doc.apiVersion)} ${String(doc.kind)}: no validator for this kind`];
  const problems: string[] = [];
  try {
    new model(doc as never).validate();
  } catch (err) {
    problems.push(err instanceof Error ? err.message : String(err));
  }
  return [...problems, ...unknownFields(model, doc)];
}

// ---------------------------------------------------------------------------------------------
// JSON schemas: NACK CRDs, k3d, okteto, the chart's values.schema.json.

function errorsOf(validate: ValidateFunction, data: unknown): string[] {
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) => {
    const extra = e.keyword === 'additionalProperties' ? ` (${JSON.stringify(e.params)})` : '';
    return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
  });
}

/**
 * A CRD schema made strict, as the API server's field validation is: objects with properties
 * reject other keys unless marked x-kubernetes-preserve-unknown-fields.
 */
function strictSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strictSchema);
  if (!isMapping(node)) return node;
  const out: Doc = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-')) continue;
    out[key] = key === 'enum' || key === 'default' ? value : strictSchema(value);
  }
  if (
    node.type === 'object' &&
    isMapping(node.properties) &&
    node.additionalProperties === undefined &&
    node['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

/** The top level of a custom resource, which the CRD schema leaves to the API server. */
const RESOURCE_METADATA = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 253 },
    namespace: { type: 'string' },
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    annotations: { type: 'object', additionalProperties: { type: 'string' } },
  },
};

function crdValidators(): Map<string, ValidateFunction> {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajvFormats.default(ajv);
  const out = new Map<string, ValidateFunction>();
  for (const crd of parseDocs(readFileSync(join(FIXTURES, 'k8s-schemas/nack-crds.yml'), 'utf8'), 'crds')) {
    const group = at(crd, 'spec.group') as string;
    const kind = at(crd, 'spec.names.kind') as string;
    for (const version of (at(crd, 'spec.versions') as Doc[]).filter((v) => v.served === true)) {
      const schema = strictSchema(at(version, 'schema.openAPIV3Schema')) as AnySchemaObject;
      const apiVersion = `${group}/${String(version.name)}`;
      const full = {
        ...schema,
        required: ['apiVersion', 'kind', 'metadata', 'spec'],
        properties: {
          ...(schema.properties as Doc),
          apiVersion: { const: apiVersion },
          kind: { const: kind },
          metadata: RESOURCE_METADATA,
        },
        additionalProperties: false,
      };
      out.set(`${apiVersion}/${kind}`, ajv.compile(full));
    }
  }
  return out;
}

const CRDS = crdValidators();

function fixtureJson(path: string): AnySchemaObject {
  return JSON.parse(readFileSync(join(FIXTURES, path), 'utf8')) as AnySchemaObject;
}

const validateK3d = (() => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  ajvFormats.default(ajv);
  return ajv.compile(fixtureJson('k8s-schemas/k3d-v1alpha5.schema.json'));
})();

const validateOkteto = (() => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  ajvFormats.default(ajv);
  return ajv.compile(fixtureJson('k8s-schemas/okteto.schema.json'));
})();

const CHART = 'deploy/helm/pgwalstreams';
const valuesSchema = JSON.parse(read(`${CHART}/values.schema.json`)) as AnySchemaObject;
/** Our own schema: compiled in strict mode, so a keyword ajv does not know is an error too. */
const validateValues = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(
  valuesSchema,
);

/** Problems of any document under deploy/k8s, by its apiVersion and kind. */
function documentProblems(doc: Doc): string[] {
  const key = `${String(doc.apiVersion)}/${String(doc.kind)}`;
  if (CORE_KINDS[key]) return coreProblems(doc);
  const crd = CRDS.get(key);
  if (crd) return errorsOf(crd, doc);
  if (doc.apiVersion === 'k3d.io/v1alpha5') return errorsOf(validateK3d, doc);
  return [`${key}: no validator for this kind`];
}

// ---------------------------------------------------------------------------------------------
// Project-specific properties.

const MANIFEST = 'deploy/k8s/pgwalstreams.yaml';

function findDoc(docs: Doc[], kind: string, name?: string): Doc {
  const doc = docs.find((d) => d.kind === kind && (name === undefined || at(d, 'metadata.name') === name));
  assert.ok(doc, `no ${kind}${name ? ` ${name}` : ''}`);
  return doc;
}

/** The one container of a Deployment. */
function containerOf(deployment: Doc): Doc {
  const containers = at(deployment, 'spec.template.spec.containers') as Doc[];
  assert.equal(containers.length, 1);
  return containers[0] as Doc;
}

/** The value following `--config` in the container's args. */
function configPathOf(container: Doc): string | undefined {
  const args = (container.args ?? []) as string[];
  const i = args.indexOf('--config');
  return i >= 0 ? args[i + 1] : undefined;
}

interface Mount {
  name: string;
  mountPath: string;
  subPath?: string;
}

/**
 * What must hold for pgwalstreams's Deployment: a singleton with Recreate, the ConfigMap mounted
 * as a directory with nothing that would restart the pod on an edit, probes on the endpoints, a
 * restricted security context, and a grace period above the shutdown timeout.
 */
function deploymentProblems(docs: Doc[]): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, message: string) => {
    if (!ok) problems.push(message);
  };
  const deployment = findDoc(docs, 'Deployment');
  const spec = deployment.spec as Doc;
  const pod = at(deployment, 'spec.template.spec') as Doc;
  const container = containerOf(deployment);
  check(spec.replicas === 1, 'replicas must be 1: one reader per replication slot');
  check(at(spec, 'strategy.type') === 'Recreate', 'strategy must be Recreate');

  const annotations = (at(deployment, 'spec.template.metadata.annotations') ?? {}) as Doc;
  for (const key of Object.keys(annotations)) {
    check(!/checksum/i.test(key), `pod annotation ${key} would restart the pod on a config edit`);
  }

  const configPath = configPathOf(container);
  check(configPath !== undefined, 'the container must pass --config');
  const volumes = (pod.volumes ?? []) as Doc[];
  const mounts = (container.volumeMounts ?? []) as Mount[];
  const configVolume = volumes.find((v) => at(v, 'configMap.name') !== undefined);
  check(configVolume !== undefined, 'no ConfigMap volume');
  const configMount = mounts.find((m) => m.name === configVolume?.name);
  check(configMount !== undefined, 'the ConfigMap volume is not mounted');
  if (configMount && configPath) {
    check(configMount.subPath === undefined, 'the ConfigMap is mounted with subPath: edits never arrive');
    check(
      posix.dirname(configPath) === configMount.mountPath,
      `--config ${configPath} is not in the ConfigMap's directory ${configMount.mountPath}`,
    );
  }
  for (const mount of mounts) check(mount.subPath === undefined, `volume ${mount.name} mounted with subPath`);

  const configMap = docs.find((d) => d.kind === 'ConfigMap');
  if (configMap && configVolume) {
    check(
      at(configVolume, 'configMap.name') === at(configMap, 'metadata.name'),
      'the ConfigMap volume names another ConfigMap',
    );
    check(at(configMap, 'immutable') !== true, 'an immutable ConfigMap never updates');
    if (configPath) {
      check(
        typeof at(configMap, `data`) === 'object' &&
          (configMap.data as Doc)[posix.basename(configPath)] !== undefined,
        `the ConfigMap has no key ${posix.basename(configPath)}`,
      );
    }
  }

  check(at(container, 'livenessProbe.httpGet.path') === '/healthz', 'liveness must probe /healthz');
  check(at(container, 'readinessProbe.httpGet.path') === '/readyz', 'readiness must probe /readyz');
  const httpPort = ((container.ports ?? []) as Doc[]).find((p) => p.name === 'http');
  check(httpPort !== undefined, 'no container port named http');

  const podSecurity = (pod.securityContext ?? {}) as Doc;
  const security = (container.securityContext ?? {}) as Doc;
  check(
    security.runAsNonRoot === true || (podSecurity.runAsNonRoot === true && security.runAsNonRoot !== false),
    'runAsNonRoot must be true',
  );
  check(security.readOnlyRootFilesystem === true, 'readOnlyRootFilesystem must be true');
  check(security.allowPrivilegeEscalation === false, 'allowPrivilegeEscalation must be false');
  check(
    ((at(security, 'capabilities.drop') ?? []) as string[]).includes('ALL'),
    'capabilities must drop ALL',
  );
  check(
    (at(security, 'seccompProfile.type') ?? at(podSecurity, 'seccompProfile.type')) === 'RuntimeDefault',
    'seccompProfile must be RuntimeDefault',
  );
  check(
    isMapping(at(container, 'resources.requests')) && isMapping(at(container, 'resources.limits')),
    'resources need requests and limits',
  );

  if (configMap && configPath) {
    const text = (configMap.data as Doc)[posix.basename(configPath)];
    if (typeof text === 'string') {
      const config = parseYaml(text) as Doc;
      const port = at(config, 'listener.serverPort') ?? 8080;
      check(
        httpPort?.containerPort === port,
        `container port ${String(httpPort?.containerPort)} ≠ serverPort`,
      );
      const shutdownMs = parseDuration(at(config, 'listener.shutdownTimeout') ?? '30s') ?? 30_000;
      check(
        typeof pod.terminationGracePeriodSeconds === 'number' &&
          pod.terminationGracePeriodSeconds * 1000 > shutdownMs,
        'terminationGracePeriodSeconds must exceed listener.shutdownTimeout',
      );
    }
  }
  return problems;
}

/** Parses the ConfigMap's config file as pgwalstreams would, reading the password from the Secret. */
function parseManifestConfig(docs: Doc[]): Config {
  const deployment = findDoc(docs, 'Deployment');
  const container = containerOf(deployment);
  const configPath = configPathOf(container) as string;
  const configMap = findDoc(docs, 'ConfigMap');
  const text = (configMap.data as Record<string, string>)[posix.basename(configPath)] as string;
  const secret = findDoc(docs, 'Secret');
  const secretVolume = ((at(deployment, 'spec.template.spec.volumes') ?? []) as Doc[]).find(
    (v) => at(v, 'secret.secretName') === at(secret, 'metadata.name'),
  );
  assert.ok(secretVolume, 'the Secret is not a volume of the Deployment');
  const mount = ((container.volumeMounts ?? []) as Mount[]).find((m) => m.name === secretVolume.name);
  assert.ok(mount, 'the Secret volume is not mounted');
  const files = new Map(
    Object.entries((secret.stringData ?? {}) as Record<string, string>).map(([key, value]) => [
      posix.join(mount.mountPath, key),
      value,
    ]),
  );
  return parseConfig(
    text,
    {},
    (path) => {
      const content = files.get(path);
      if (content === undefined) throw Object.assign(new Error(`no such file ${path}`), { code: 'ENOENT' });
      return content;
    },
    `${MANIFEST} ConfigMap`,
  );
}

/** `key = value` lines of a postgresql.conf. */
function pgSettings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([a-z_]+)\s*=\s*'?([^'#\s]+)'?\s*(#.*)?$/.exec(line);
    if (match) out.set(match[1] as string, match[2] as string);
  }
  return out;
}

const ROLE_SQL = read('deploy/postgresql/pgwalstreams-role.sql');
const DEV_PASSWORD = /PASSWORD '([^']+)'/.exec(ROLE_SQL)?.[1];

/** What the role script must do: a non-superuser replication role and the publication. */
function roleSqlProblems(sql: string, config: Config): string[] {
  const problems: string[] = [];
  const statements = sql.replace(/--.*$/gm, '').replace(/\s+/g, ' ');
  const role = config.database.user;
  const create = new RegExp(`CREATE ROLE ${role} WITH ([^;]*);`, 'i').exec(statements)?.[1] ?? '';
  if (!/\bLOGIN\b/i.test(create) || !/\bREPLICATION\b/i.test(create)) {
    problems.push(`role ${role} needs LOGIN and REPLICATION`);
  }
  if (
    /(^|\s)SUPERUSER\b/i.test(create) ||
    new RegExp(`ALTER ROLE ${role}[^;]*\\bSUPERUSER`, 'i').test(statements)
  ) {
    problems.push(`role ${role} must not be a superuser`);
  }
  for (const grant of [
    `GRANT CONNECT ON DATABASE ${config.database.name} TO ${role}`,
    `GRANT USAGE ON SCHEMA public TO ${role}`,
    `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${role}`,
  ]) {
    if (!statements.includes(grant)) problems.push(`missing: ${grant}`);
  }
  const publication = `CREATE PUBLICATION "${config.listener.publication}" FOR ALL TABLES`;
  if (!statements.includes(publication)) problems.push(`missing: ${publication}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Chart values of the third-party charts: every key must exist in the chart's defaults.

interface ChartKeys {
  keys: string[];
  openMaps: string[];
}

function chartKeyProblems(values: unknown, chart: ChartKeys): string[] {
  const keys = new Set(chart.keys);
  const open = new Set(chart.openMaps);
  const problems: string[] = [];
  const walk = (value: unknown, path: string[]): void => {
    if (!isMapping(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const p = [...path, key].join('.');
      if (!keys.has(p)) problems.push(`${p}: not a key of the chart`);
      else if (!open.has(p)) walk(child, [...path, key]);
    }
  };
  walk(values, []);
  return problems;
}

function chartKeys(name: string): ChartKeys {
  return JSON.parse(readFileSync(join(FIXTURES, `chart-keys/${name}.json`), 'utf8')) as ChartKeys;
}

// ---------------------------------------------------------------------------------------------
// Dockerfile, statically.

/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const space = line.search(/\s/);
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

function execForm(args: string): string[] | undefined {
  try {
    const value: unknown = JSON.parse(args);
    return Array.isArray(value) && value.every((v) => typeof v === 'string') ? value : undefined;
  } catch {
    return undefined;
  }
}

function dockerfileProblems(text: string): string[] {
  const problems: string[] = [];
  const all = dockerInstructions(text);
  const args = new Map<string, string>();
  for (const { op, args: a } of all) {
    const match = op === 'ARG' ? /^(\w+)=(\S+)$/.exec(a) : null;
    if (match) args.set(match[1] as string, match[2] as string);
  }
  const froms = all.map((ins, i) => ({ ...ins, i })).filter((ins) => ins.op === 'FROM');
  if (froms.length < 2) problems.push('not a multi-stage build');
  const last = froms[froms.length - 1];
  const build = all.slice(froms[0]?.i ?? 0, last?.i ?? all.length);
  const runtime = all.slice(last?.i ?? 0);
  const image = (last?.args.split(/\s+/)[0] ?? '').replace(
    /\$\{(\w+)\}/g,
    (_, name: string) => args.get(name) ?? '',
  );
  if (!/^node:(2[2-9])[.-][\w.-]*slim$/.test(image)) {
    problems.push(`runtime image ${image || '(none)'} is not a slim Node.js 22 or later`);
  }
  const runs = (stage: typeof all) => stage.filter((i) => i.op === 'RUN').map((i) => i.args);
  if (!runs(build).some((r) => /\bnpm ci\b/.test(r))) problems.push('the build stage does not run npm ci');
  if (!runs(build).some((r) => /\bnpm run build\b/.test(r)))
    problems.push('the build stage does not run npm run build');
  const install = runs(runtime).find((r) => /\bnpm ci\b/.test(r)) ?? '';
  if (!/--omit=dev\b/.test(install))
    problems.push('the runtime stage does not install with npm ci --omit=dev');
  if (!/--ignore-scripts\b/.test(install)) problems.push('the runtime npm ci needs --ignore-scripts');
  if (!runtime.some((i) => i.op === 'COPY' && /--from=\S+/.test(i.args) && /\bdist\b/.test(i.args))) {
    problems.push('the runtime stage does not copy dist/ from the build stage');
  }
  const user = runtime
    .filter((i) => i.op === 'USER')
    .pop()
    ?.args.split(':')[0];
  if (user !== 'node' && user !== '1000')
    problems.push(`runtime USER is ${user ?? 'unset (root)'}, not node`);
  const entrypoint = runtime.filter((i) => i.op === 'ENTRYPOINT').pop();
  const entry = entrypoint && execForm(entrypoint.args);
  if (!entry) problems.push('ENTRYPOINT must be in exec form');
  else if (entry[0] !== 'node') problems.push(`ENTRYPOINT starts ${entry[0] ?? ''}, not node`);
  const cmd = runtime.filter((i) => i.op === 'CMD').pop();
  if (cmd && !execForm(cmd.args)) problems.push('CMD must be in exec form');
  for (const ins of all) {
    if ((ins.op === 'CMD' || ins.op === 'ENTRYPOINT') && /\bnpm\b/.test(ins.args)) {
      problems.push(`${ins.op} runs npm, which does not pass SIGTERM on`);
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Helm templates: the values they use must exist.

/** Every `.Values.a.b` path in the chart's templates. */
function templateValuePaths(texts: string[]): string[] {
  const paths = new Set<string>();
  for (const text of texts) {
    for (const match of text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)) {
      paths.add((match[1] as string).slice(1));
    }
  }
  return [...paths].sort();
}

function valuePathProblems(paths: string[], values: unknown, schema: AnySchemaObject): string[] {
  const problems: string[] = [];
  for (const path of paths) {
    let value: unknown = values;
    let node: unknown = schema;
    for (const segment of path.split('.')) {
      if (!isMapping(value) || !(segment in value)) {
        problems.push(`.Values.${path}: not in values.yaml`);
        break;
      }
      value = value[segment];
    }
    for (const segment of path.split('.')) {
      const properties = isMapping(node) ? node.properties : undefined;
      if (isMapping(properties) && properties[segment] !== undefined) node = properties[segment];
      else if (isMapping(node) && isMapping(node.additionalProperties)) node = node.additionalProperties;
      else {
        problems.push(`.Values.${path}: not in values.schema.json`);
        break;
      }
    }
  }
  return problems;
}

function chartTemplates(): string[] {
  const dir = join(ROOT, CHART, 'templates');
  return readdirSync(dir).map((name) => readFileSync(join(dir, name), 'utf8'));
}

/** The text of a `define` in _helpers.tpl. */
function helperText(name: string): string {
  const helpers = read(`${CHART}/templates/_helpers.tpl`);
  const match = new RegExp(`define "${name}" -}}\\s*([^{\\s]+)\\s*{{- end`).exec(helpers);
  assert.ok(match, `no plain define ${name} in _helpers.tpl`);
  return match[1] as string;
}

const chartValues = parseYaml(read(`${CHART}/values.yaml`)) as Doc;

// =============================================================================================

describe('deploy files', () => {
  it('every YAML document under deploy/ and at the root parses (Helm templates excepted)', () => {
    const files = [...yamlFiles('deploy'), 'docker-compose.yml', 'okteto.yml'];
    assert.ok(files.length >= 12, `only ${files.length} files found`);
    for (const file of files) assert.ok(docsOf(file).length > 0, `${file} has no document`);
    assert.throws(() => parseDocs('a: 1\na: 2\n', 'dup'), /dup/);
    assert.throws(() => parseDocs('a: [1\n', 'broken'), /broken/);
  });

  describe('Kubernetes documents', () => {
    const k8sFiles = yamlFiles('deploy/k8s').filter((f) => !/(values|kustomization)\.yaml$/.test(f));

    it('validate against their schemas, unknown fields rejected', () => {
      let count = 0;
      for (const file of k8sFiles) {
        for (const doc of docsOf(file)) {
          assert.deepEqual(documentProblems(doc), [], `${file} ${String(doc.kind)}`);
          count++;
        }
      }
      // ServiceAccount, ConfigMap, Secret, Deployment, Service, k3d, Stream, Consumer.
      assert.ok(count >= 8, `only ${count} documents checked`);
    });

    it('a broken core document fails: wrong type, missing field, unknown fields', () => {
      const deployment = findDoc(docsOf(MANIFEST), 'Deployment');
      const wrongType = clone(deployment);
      (wrongType.spec as Doc).replicas = 'one';
      assert.match(coreProblems(wrongType).join('\n'), /replicas must be integer/);
      const noSelector = clone(deployment);
      delete (noSelector.spec as Doc).selector;
      assert.match(coreProblems(noSelector).join('\n'), /selector/);

      const typos = clone(deployment);
      (typos.spec as Doc).selectr = (typos.spec as Doc).selector;
      const container = containerOf(typos);
      container.imagee = 'x';
      ((container.volumeMounts as Doc[])[0] as Doc).subpath = 'config.yml';
      assert.deepEqual(coreProblems(typos).sort(), [
        '.spec.selectr: unknown field',
        '.spec.template.spec.containers[0].imagee: unknown field',
        '.spec.template.spec.containers[0].volumeMounts[0].subpath: unknown field',
      ]);
      // Free-form maps stay free: any label, any ConfigMap key.
      const configMap = clone(findDoc(docsOf(MANIFEST), 'ConfigMap'));
      (configMap.metadata as Doc).labels = { anything: 'goes' };
      (configMap.data as Doc)['other.yml'] = 'x';
      assert.deepEqual(coreProblems(configMap), []);
    });

    it('a broken NACK Stream or Consumer fails', () => {
      const stream = docsOf('deploy/k8s/nack/stream.yaml')[0] as Doc;
      const typo = clone(stream);
      (typo.spec as Doc).duplicate_window = '2m';
      assert.match(documentProblems(typo).join('\n'), /duplicate_window/);
      const badStorage = clone(stream);
      (badStorage.spec as Doc).storage = 'disk';
      assert.match(documentProblems(badStorage).join('\n'), /\/spec\/storage must be equal to one of/);
      const topLevel = clone(stream);
      topLevel.specs = {};
      assert.match(documentProblems(topLevel).join('\n'), /specs/);

      const consumer = docsOf('deploy/k8s/nack/consumer.yaml')[0] as Doc;
      const bad = clone(consumer);
      Object.assign(bad.spec as Doc, { deliverPolicy: 'everything', maxDeliver: 'ten', durable_name: 'x' });
      const problems = documentProblems(bad).join('\n');
      assert.match(problems, /deliverPolicy/);
      assert.match(problems, /maxDeliver/);
      assert.match(problems, /durable_name/);
      const oldVersion = clone(consumer);
      oldVersion.apiVersion = 'jetstream.nats.io/v1beta1';
      assert.match(documentProblems(oldVersion).join('\n'), /no validator/);
    });

    it('the stream keeps duplicates out for longer than the default window and covers the subjects', () => {
      const stream = docsOf('deploy/k8s/nack/stream.yaml')[0] as Doc;
      const config = parseManifestConfig(docsOf(MANIFEST));
      const window = parseDuration(at(stream, 'spec.duplicateWindow'));
      assert.ok(window !== undefined && window >= 2 * 60_000, 'duplicateWindow must be set, at least 2m');
      assert.ok(/must exceed|longer than/i.test(read('deploy/k8s/nack/stream.yaml')), 'explain the window');
      assert.deepEqual(at(stream, 'spec.subjects'), [`${config.nats.topicPrefix}.>`]);
      const consumer = docsOf('deploy/k8s/nack/consumer.yaml')[0] as Doc;
      assert.equal(at(consumer, 'spec.streamName'), at(stream, 'spec.name'));
      assert.equal(at(consumer, 'metadata.name'), 'public-users');
      assert.equal(at(consumer, 'spec.filterSubject'), `${config.nats.topicPrefix}.public.users.>`);
    });

    it('the k3d config names cluster poc; a typo fails', () => {
      const k3d = docsOf('deploy/k8s/k3d.yaml')[0] as Doc;
      assert.equal(at(k3d, 'metadata.name'), 'poc');
      const typo = clone(k3d);
      ((typo.ports as Doc[])[0] as Doc).nodeFilter = ['loadbalancer'];
      assert.match(documentProblems(typo).join('\n'), /nodeFilter/);
    });
  });

  describe('pgwalstreams.yaml', () => {
    const docs = docsOf(MANIFEST);

    it('has a ServiceAccount, ConfigMap, Secret, Deployment and Service', () => {
      assert.deepEqual(docs.map((d) => d.kind).sort(), [
        'ConfigMap',
        'Deployment',
        'Secret',
        'Service',
        'ServiceAccount',
      ]);
      const deployment = findDoc(docs, 'Deployment');
      assert.equal(containerOf(deployment).image, 'pgwalstreams:dev');
      const service = findDoc(docs, 'Service');
      assert.deepEqual(at(service, 'spec.selector'), at(deployment, 'spec.selector.matchLabels'));
      assert.equal(((at(service, 'spec.ports') as Doc[])[0] as Doc).targetPort, 'http');
    });

    it('the Deployment is a singleton with a hot-reloadable config, probes and a restricted context', () => {
      assert.deepEqual(deploymentProblems(docs), []);
    });

    it('a Deployment that breaks one of those rules fails', () => {
      const broken = (edit: (deployment: Doc, container: Doc) => void): string[] => {
        const copy = clone(docs);
        const deployment = findDoc(copy, 'Deployment');
        edit(deployment, containerOf(deployment));
        return deploymentProblems(copy);
      };
      const mountOf = (container: Doc) => (container.volumeMounts as Doc[])[0] as Doc;
      assert.match(broken((_, c) => (mountOf(c).subPath = 'config.yml')).join('\n'), /subPath/);
      assert.match(
        broken(
          (d) => ((at(d, 'spec.template.metadata.annotations') as Doc)['checksum/config'] = 'abc'),
        ).join(),
        /checksum\/config/,
      );
      assert.match(broken((d) => ((d.spec as Doc).strategy = { type: 'RollingUpdate' })).join(), /Recreate/);
      assert.match(broken((d) => ((d.spec as Doc).replicas = 2)).join(), /replicas/);
      assert.match(
        broken((_, c) => ((at(c, 'livenessProbe.httpGet') as Doc).path = '/readyz')).join(),
        /liveness/,
      );
      assert.match(
        broken((_, c) => ((c.securityContext as Doc).readOnlyRootFilesystem = false)).join(),
        /readOnlyRootFilesystem/,
      );
      assert.match(
        broken((d, c) => {
          delete (c.securityContext as Doc).runAsNonRoot;
          delete (at(d, 'spec.template.spec.securityContext') as Doc).runAsNonRoot;
        }).join(),
        /runAsNonRoot/,
      );
      assert.match(
        broken((d) => ((at(d, 'spec.template.spec') as Doc).terminationGracePeriodSeconds = 30)).join(),
        /terminationGracePeriodSeconds/,
      );
      assert.match(broken((_, c) => (c.args = ['--config', '/etc/other/config.yml'])).join(), /directory/);
    });

    it("the ConfigMap's config.yml passes pgwalstreams's validation, password read from the Secret", () => {
      const config = parseManifestConfig(docs);
      assert.equal(config.database.password, DEV_PASSWORD);
      assert.equal(config.database.user, 'pgwalstreams');
      assert.equal(config.database.host, 'postgresql');
      assert.ok(Object.keys(config.database.filter.tables).length > 0, 'the example needs a filter');
      // A config that pgwalstreams rejects fails here too.
      const broken = clone(docs);
      const configMap = findDoc(broken, 'ConfigMap');
      (configMap.data as Doc)['config.yml'] = String((configMap.data as Doc)['config.yml']).replace(
        'topicPrefix',
        'topicprefix',
      );
      assert.throws(() => parseManifestConfig(broken), /topicprefix.*did you mean topicPrefix/s);
    });
  });

  describe('PostgreSQL setup', () => {
    const settings = pgSettings(read('deploy/postgresql/postgresql.conf'));
    const config = parseManifestConfig(docsOf(MANIFEST));

    it('postgresql.conf, the chart values and docker-compose agree on the settings', () => {
      assert.equal(settings.get('wal_level'), 'logical');
      assert.ok(Number(settings.get('max_replication_slots')) >= 1);
      assert.ok(Number(settings.get('max_wal_senders')) >= 1);
      const values = docsOf('deploy/k8s/postgres-values.yaml')[0] as Doc;
      assert.deepEqual(pgSettings(String(at(values, 'primary.extendedConfiguration'))), settings);
      const compose = docsOf('docker-compose.yml')[0] as Doc;
      const command = at(compose, 'services.postgres.command');
      const words = Array.isArray(command) ? (command as string[]) : String(command).split(/\s+/);
      const composeSettings = new Map(
        words.flatMap((w, i) => (words[i - 1] === '-c' ? [w.split('=') as [string, string]] : [])),
      );
      assert.deepEqual(composeSettings, settings);
    });

    it('the bitnami values move to the legacy image, use database app and run the role script', () => {
      const values = docsOf('deploy/k8s/postgres-values.yaml')[0] as Doc;
      assert.equal(at(values, 'image.repository'), 'bitnamilegacy/postgresql');
      assert.equal(at(values, 'global.security.allowInsecureImages'), true);
      assert.equal(at(values, 'auth.database'), config.database.name);
      const scripts = at(values, 'primary.initdb.scripts') as Record<string, string>;
      assert.deepEqual(
        Object.values(scripts),
        [ROLE_SQL],
        'the init script is pgwalstreams-role.sql verbatim',
      );
    });

    it('the role is a non-superuser with REPLICATION and its grants; the publication is created', () => {
      assert.deepEqual(roleSqlProblems(ROLE_SQL, config), []);
      const broken = (from: RegExp | string, to: string): string => {
        const sql = ROLE_SQL.replace(from, to);
        assert.notEqual(sql, ROLE_SQL, `the edit ${String(from)} changed nothing`);
        return roleSqlProblems(sql, config).join('\n');
      };
      assert.match(broken(' NOSUPERUSER', ' SUPERUSER'), /must not be a superuser/);
      assert.match(broken('WITH LOGIN REPLICATION', 'WITH LOGIN'), /REPLICATION/);
      assert.match(broken(/^GRANT CONNECT.*$/m, ''), /GRANT CONNECT/);
      assert.match(broken(/^CREATE PUBLICATION.*$/m, ''), /CREATE PUBLICATION/);
      assert.equal(DEV_PASSWORD, config.database.password, 'the Secret holds the role script password');
    });
  });

  describe('values of the nats, nack and postgresql charts', () => {
    const cases = [
      ['deploy/k8s/nats-values.yaml', 'nats'],
      ['deploy/k8s/nack-values.yaml', 'nack'],
      ['deploy/k8s/postgres-values.yaml', 'postgresql'],
    ] as const;

    for (const [file, chart] of cases) {
      it(`${file} uses only keys of the ${chart} chart`, () => {
        assert.deepEqual(chartKeyProblems(docsOf(file)[0], chartKeys(chart)), []);
      });
    }

    it('a misspelt key fails; keys under an open map do not', () => {
      const values = clone(docsOf('deploy/k8s/nats-values.yaml')[0] as Doc);
      (at(values, 'config.jetstream') as Doc).enable = true;
      (at(values, 'container.env') as Doc).ANY_VARIABLE = 'x';
      assert.deepEqual(chartKeyProblems(values, chartKeys('nats')), [
        'config.jetstream.enable: not a key of the chart',
      ]);
    });

    it('nats has JetStream on file storage, the monitor port on the Service and nats-box', () => {
      const values = docsOf('deploy/k8s/nats-values.yaml')[0] as Doc;
      assert.equal(at(values, 'config.jetstream.enabled'), true);
      assert.equal(at(values, 'config.jetstream.fileStore.enabled'), true);
      assert.equal(at(values, 'service.ports.monitor.enabled'), true);
      assert.equal(at(values, 'natsBox.enabled'), true);
      const nack = docsOf('deploy/k8s/nack-values.yaml')[0] as Doc;
      const config = parseManifestConfig(docsOf(MANIFEST));
      assert.deepEqual([at(nack, 'jetstream.nats.url')], config.nats.address);
    });
  });

  describe('kustomize base', () => {
    it('renders with kubectl, without hashing the ConfigMap name', (t) => {
      const result = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy/k8s')], { encoding: 'utf8' });
      if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
        t.skip('kubectl is not on PATH: `kubectl kustomize deploy/k8s` not checked');
        return;
      }
      assert.equal(result.status, 0, result.stderr);
      const rendered = parseDocs(result.stdout, 'kubectl kustomize deploy/k8s');
      for (const doc of rendered) assert.deepEqual(documentProblems(doc), [], String(doc.kind));
      const original = findDoc(docsOf(MANIFEST), 'ConfigMap');
      assert.equal(at(findDoc(rendered, 'ConfigMap'), 'metadata.name'), at(original, 'metadata.name'));
      assert.deepEqual(deploymentProblems(rendered), []);
    });

    it('has no generator that would hash names', () => {
      const kustomization = docsOf('deploy/k8s/kustomization.yaml')[0] as Doc;
      assert.equal(kustomization.configMapGenerator, undefined);
      assert.equal(at(kustomization, 'generatorOptions.disableNameSuffixHash'), true);
      assert.deepEqual(kustomization.resources, ['pgwalstreams.yaml']);
    });
  });

  describe('Helm chart', () => {
    it('Chart.yaml is apiVersion v2 and the chart has its templates', () => {
      const chart = docsOf(`${CHART}/Chart.yaml`)[0] as Doc;
      assert.equal(chart.apiVersion, 'v2');
      assert.equal(chart.name, 'pgwalstreams');
      const templates = readdirSync(join(ROOT, CHART, 'templates')).sort();
      for (const name of [
        'NOTES.txt',
        '_helpers.tpl',
        'configmap.yaml',
        'deployment.yaml',
        'secret.yaml',
        'service.yaml',
        'serviceaccount.yaml',
      ]) {
        assert.ok(templates.includes(name), `missing templates/${name}`);
      }
    });

    it('values.yaml validates against values.schema.json; broken copies do not', () => {
      assert.equal(valuesSchema.$schema, 'http://json-schema.org/draft-07/schema#');
      assert.deepEqual(errorsOf(validateValues, chartValues), []);
      const broken = (edit: (values: Doc) => void): string => {
        const copy = clone(chartValues);
        edit(copy);
        return errorsOf(validateValues, copy).join('\n');
      };
      assert.match(
        broken((v) => (v.replicaCount = 2)),
        /replicaCount/,
      );
      assert.match(
        broken((v) => ((v.image as Doc).pullPolicy = 'Sometimes')),
        /pullPolicy/,
      );
      assert.match(
        broken((v) => ((at(v, 'config.database') as Doc).password = 'x')),
        /password/,
      );
      assert.match(
        broken((v) => ((at(v, 'config.nats') as Doc).topicprefix = 'db')),
        /topicprefix/,
      );
      assert.match(
        broken((v) => ((at(v, 'config.listener') as Doc).shutdownTimeout = 'soon')),
        /shutdownTimeout/,
      );
      assert.match(
        broken((v) => ((v.securityContext as Doc).readOnlyRootFs = true)),
        /readOnlyRootFs/,
      );
    });

    it("the schema's config block takes every key of config.example.yaml but the password", () => {
      const example = parseYaml(read('config.example.yaml')) as Doc;
      delete (example.database as Doc).password;
      const copy = clone(chartValues);
      copy.config = example;
      assert.deepEqual(errorsOf(validateValues, copy), []);
    });

    it("the values' config block, as the chart renders it, passes pgwalstreams's validation", () => {
      const secretDir = helperText('pgwalstreams.secretDir');
      const key = at(chartValues, 'password.existingSecretKey') as string;
      const config = clone(chartValues.config) as Doc;
      (config.database as Doc).passwordFile = posix.join(secretDir, key);
      const parsed = parseConfig(stringifyYaml(config), {}, (path) => {
        assert.equal(path, posix.join(secretDir, key));
        return 'secret\n';
      });
      assert.equal(parsed.database.password, 'secret');
      assert.ok(
        (chartValues.terminationGracePeriodSeconds as number) * 1000 > parsed.listener.shutdownTimeout,
        'terminationGracePeriodSeconds must exceed listener.shutdownTimeout',
      );
    });

    it('every .Values path in the templates exists in values.yaml and values.schema.json', () => {
      const paths = templateValuePaths(chartTemplates());
      assert.ok(paths.length >= 20, `only ${paths.length} paths found`);
      assert.deepEqual(valuePathProblems(paths, chartValues, valuesSchema), []);
      assert.deepEqual(
        valuePathProblems(
          templateValuePaths(['{{ .Values.imagee.tag }} {{ .Values.image.tag.x }}']),
          chartValues,
          valuesSchema,
        ),
        [
          '.Values.image.tag.x: not in values.yaml',
          '.Values.image.tag.x: not in values.schema.json',
          '.Values.imagee.tag: not in values.yaml',
          '.Values.imagee.tag: not in values.schema.json',
        ],
      );
    });

    it('the templates mount the ConfigMap as a directory, with no checksum annotation', () => {
      const deployment = read(`${CHART}/templates/deployment.yaml`);
      const body = deployment.replace(/{{-? \/\*[\s\S]*?\*\/ -?}}/g, '');
      assert.doesNotMatch(body, /checksum\//);
      assert.doesNotMatch(body, /subPath/);
      assert.match(body, /replicas: 1\n/);
      assert.match(body, /type: Recreate\n/);
      assert.match(body, /path: \/healthz[\s\S]*livenessProbe:\s*httpGet:\s*path: \/healthz/);
      assert.match(body, /readinessProbe:\s*httpGet:\s*path: \/readyz/);
      assert.match(body, /mountPath: {{ include "pgwalstreams.configDir" \. }}\n/);
      assert.match(body, /"--config", "{{ include "pgwalstreams.configDir" \. }}\/config.yml"/);
      assert.doesNotMatch(read(`${CHART}/templates/configmap.yaml`), /immutable/);
    });
  });

  describe('Dockerfile', () => {
    it('is multi-stage, non-root, with node as the exec-form entrypoint', () => {
      assert.deepEqual(dockerfileProblems(read('Dockerfile')), []);
      assert.ok(statSync(join(ROOT, '.dockerignore')).isFile());
    });

    it('the package bin, the image entry point and the test harness run the same bundle', () => {
      const BIN = 'dist/src/main.js';
      const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; files: string[] };
      assert.deepEqual(pkg.bin, { pgwalstreams: BIN });
      assert.ok(
        pkg.files.some((f) => BIN.startsWith(`${f}/`)),
        `package.json files leave out ${BIN}`,
      );
      const entry = dockerInstructions(read('Dockerfile'))
        .filter((i) => i.op === 'ENTRYPOINT')
        .pop();
      assert.deepEqual(entry && execForm(entry.args), ['node', '--max-semi-space-size=16', BIN]);
      assert.match(read('test/integration/harness/service.ts'), /new URL\('\.\.\/\.\.\/\.\.\/src\/main\.js'/);
      // npm run build leaves esbuild's bundle there, not tsc's main.js, which imports ./cli.js.
      const bundle = read(BIN);
      assert.match(bundle, /^#!\/usr\/bin\/env -S node --max-semi-space-size=16\n/);
      assert.doesNotMatch(bundle, /from "\.\/(cli|commands\/dispatch)\.js"/);
      assert.match(bundle, /from "\.\/chunks\//);
      // The service's own bundle and the code cache it is compiled from (src/code-cache.ts).
      assert.ok(statSync(join(ROOT, 'dist/src/chunks/run.cjs.cache')).size > 0);
      assert.match(read('dist/src/chunks/run.cjs'), /^'use strict';/);
    });

    it('a Dockerfile that breaks a rule fails', () => {
      const good = read('Dockerfile');
      const broken = (from: RegExp | string, to: string): string => {
        const text = good.replace(from, to);
        assert.notEqual(text, good, `the edit ${String(from)} changed nothing`);
        return dockerfileProblems(text).join('\n');
      };
      assert.match(broken(/^ENTRYPOINT .*$/m, 'ENTRYPOINT node dist/src/main.js'), /exec form/);
      assert.match(broken(/^ENTRYPOINT .*$/m, 'ENTRYPOINT ["npm", "start"]'), /not node|npm/);
      assert.match(broken(/^USER .*$/m, 'USER root'), /USER is root/);
      assert.match(broken(/^USER .*$/m, ''), /unset/);
      assert.match(broken('--omit=dev ', ''), /--omit=dev/);
      assert.match(
        broken(/^FROM \$\{NODE_IMAGE\} AS runtime$/m, 'FROM node:20-slim AS runtime'),
        /Node.js 22/,
      );
      assert.match(
        dockerfileProblems('FROM node:24-slim\nUSER node\nCMD ["node", "x.js"]\n').join(),
        /multi-stage/,
      );
    });
  });

  describe('docker-compose.yml', () => {
    const compose = docsOf('docker-compose.yml')[0] as Doc;
    const service = (name: string) => at(compose, `services.${name}`) as Doc;

    it('mounts the config directory and init.sql, builds the image, creates the stream', () => {
      const pgwalstreams = service('pgwalstreams');
      assert.equal(pgwalstreams.build, '.');
      const mounts = (pgwalstreams.volumes as string[]).map((v) => v.split(':'));
      const config = mounts.find(([, target]) => target === '/etc/pgwalstreams');
      assert.ok(config, 'the config directory must be mounted at /etc/pgwalstreams');
      assert.ok(
        statSync(resolve(ROOT, config[0] as string)).isDirectory(),
        'mount the directory, not the file',
      );
      const dockerCmd = dockerInstructions(read('Dockerfile'))
        .filter((i) => i.op === 'CMD')
        .pop();
      assert.equal(
        dirname(configPathOf({ args: execForm(dockerCmd?.args ?? '') }) ?? ''),
        '/etc/pgwalstreams',
      );

      const postgresMounts = (service('postgres').volumes as string[]).map((v) => v.split(':'));
      const sources = postgresMounts.map(([source]) => relative(ROOT, resolve(ROOT, source as string)));
      assert.ok(sources.includes('deploy/postgresql'), 'init.sql must be mounted');
      assert.ok(sources.includes('deploy/postgresql/pgwalstreams-role.sql'), 'the role script must run');
      for (const [source] of postgresMounts) assert.ok(statSync(resolve(ROOT, source as string)));
      assert.match(String(at(compose, 'services.nats.command')), /-js/);
    });

    it("the config file passes pgwalstreams's validation with the service's environment", () => {
      const env = service('pgwalstreams').environment as Record<string, string>;
      const config = parseConfig(read('deploy/compose/config/config.yml'), env, () => {
        throw new Error('no password file in compose');
      });
      assert.equal(config.database.password, DEV_PASSWORD);
      assert.equal(config.database.host, 'postgres');
      assert.deepEqual(config.nats.address, ['nats://nats:4222']);
      assert.equal(config.nats.stream?.name, 'db', 'pgwalstreams creates the stream');
      assert.equal(config.listener.publication, 'wal-listener');
      const grace = parseDuration(service('pgwalstreams').stop_grace_period);
      assert.ok(grace !== undefined && grace > config.listener.shutdownTimeout);
    });
  });

  describe('okteto.yml', () => {
    it('validates against the okteto schema and targets the Deployment', () => {
      const okteto = docsOf('okteto.yml')[0] as Doc;
      assert.deepEqual(errorsOf(validateOkteto, okteto), []);
      const deployment = findDoc(docsOf(MANIFEST), 'Deployment');
      assert.deepEqual(Object.keys(okteto.dev as Doc), [at(deployment, 'metadata.name')]);
    });

    it('a typo or the legacy format fails', () => {
      const okteto = docsOf('okteto.yml')[0] as Doc;
      const typo = clone(okteto);
      (at(typo, 'dev.pgwalstreams') as Doc).forwards = ['8080:8080'];
      assert.match(errorsOf(validateOkteto, typo).join('\n'), /must NOT have additional properties/);
      const legacy = { name: 'pgwalstreams', image: 'node:24', command: ['bash'] };
      assert.notDeepEqual(errorsOf(validateOkteto, legacy), []);
    });
  });
});

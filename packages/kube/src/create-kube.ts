import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import { ConflictError, DeadlineExceededError, InvalidInputError, NotFoundError, UpstreamError } from '@breakfix/core';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import type { Kube } from './kube.js';
import {
  type ApplyOptions,
  describeRef,
  type JsonPatchOperation,
  type KubeObject,
  type ObjectRef,
  refOf,
} from './types.js';

export interface CreateKubeOptions {
  /** A loaded KubeConfig, or the path of a kubeconfig file. */
  kubeconfig: KubeConfig | string;
  /** Field manager recorded by server-side apply. Default `breakfix`. */
  fieldManager?: string;
  /** Deadline for one request. Default 30 s. */
  requestTimeoutMs?: number;
}

/** How long apply waits for a fresh ResourceQuota to be computed before giving up. */
const QUOTA_SETTLE_MS = 15_000;

interface ApiResource {
  name: string;
  namespaced: boolean;
  kind: string;
  subresources: Set<string>;
}

interface Status {
  kind?: string;
  message?: string;
  reason?: string;
  code?: number;
}

/**
 * Builds the Kube port over @kubernetes/client-node: its KubeConfig handles credentials and TLS, its
 * Watch handles streaming. Requests are issued directly so that every query parameter the apiserver
 * offers (fieldValidation, dryRun, force) is ours to set and unknown fields reach the server intact.
 */
export function createKube(options: CreateKubeOptions): Kube {
  const config = loadConfig(options.kubeconfig);
  const cluster = config.getCurrentCluster();
  if (cluster === null) throw new InvalidInputError('the kubeconfig has no current cluster');
  const server = cluster.server.replace(/\/$/, '');
  const fieldManager = options.fieldManager ?? 'breakfix';
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const discovery = new Map<string, Promise<Map<string, ApiResource>>>();
  // Connections are kept and reused: a new one costs a TLS handshake on both sides (measured:
  // with 50 claims at once, new connections were a fifth of the orchestrator's CPU). Free ones
  // never keep the process alive (the agent unrefs them) and close after a minute unused.
  const agent = new https.Agent({ keepAlive: true, maxFreeSockets: 256, timeout: 60_000, scheduling: 'lifo' });
  // One TLS context for every connection, instead of parsing the CA and key again for each.
  let secureContext: { material: string; context: tls.SecureContext } | undefined;
  const contextFor = (options: https.RequestOptions): tls.SecureContext => {
    const material = [options.ca, options.cert, options.key, options.pfx, options.passphrase]
      .map((part) => (part === undefined ? '' : String(part)))
      .join('\0');
    if (secureContext?.material !== material) {
      secureContext = {
        material,
        context: tls.createSecureContext({
          ...(options.ca === undefined ? {} : { ca: options.ca }),
          ...(options.cert === undefined ? {} : { cert: options.cert }),
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(options.pfx === undefined ? {} : { pfx: options.pfx }),
          ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        }),
      };
    }
    return secureContext.context;
  };

  async function request<T>(
    method: string,
    path: string,
    body?: { contentType: string; data: unknown },
  ): Promise<{ status: number; json: T }> {
    const url = new URL(server + path);
    const requestOptions: https.RequestOptions = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: { Accept: 'application/json' },
      timeout: timeoutMs,
    };
    await config.applyToHTTPSOptions(requestOptions);
    requestOptions.agent = agent;
    // https.request hands it on to tls.connect (its RequestOptions type does not list it).
    (requestOptions as tls.ConnectionOptions).secureContext = contextFor(requestOptions);
    const payload = body === undefined ? undefined : JSON.stringify(body.data);
    if (body !== undefined && payload !== undefined) {
      requestOptions.headers = {
        ...requestOptions.headers,
        'Content-Type': body.contentType,
        'Content-Length': Buffer.byteLength(payload),
      };
    }
    return await new Promise((resolve, reject) => {
      const req = https.request(requestOptions, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: (text === '' ? {} : JSON.parse(text)) as T });
          } catch (error) {
            reject(new UpstreamError(`${method} ${path}: unreadable answer: ${text.slice(0, 200)}`, { cause: error }));
          }
        });
      });
      req.on('timeout', () =>
        req.destroy(new DeadlineExceededError(`${method} ${path} got no answer within ${timeoutMs} ms`)),
      );
      req.on('error', (error) =>
        reject(
          error instanceof DeadlineExceededError
            ? error
            : new UpstreamError(`${method} ${path}: ${error.message}`, { cause: error }),
        ),
      );
      req.end(payload);
    });
  }

  /** Discovery per group version, cached; a failed lookup is not cached. */
  function resources(apiVersion: string, refresh = false): Promise<Map<string, ApiResource>> {
    let cached = discovery.get(apiVersion);
    if (cached === undefined || refresh) {
      cached = discover(apiVersion);
      discovery.set(apiVersion, cached);
      cached.catch(() => discovery.delete(apiVersion));
    }
    return cached;
  }

  async function resourceFor(apiVersion: string, kind: string): Promise<ApiResource> {
    // A kind missing from the cache may have been installed since (a CRD): look once more.
    const resource = (await resources(apiVersion)).get(kind) ?? (await resources(apiVersion, true)).get(kind);
    if (resource === undefined) {
      throw new NotFoundError(`the API server does not serve ${kind} in ${apiVersion}`, {
        hint: 'is the CRD installed and Established?',
      });
    }
    return resource;
  }

  async function discover(apiVersion: string): Promise<Map<string, ApiResource>> {
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const { status, json } = await request<{ resources?: { name: string; namespaced: boolean; kind: string }[] }>(
      'GET',
      path,
    );
    const byKind = new Map<string, ApiResource>();
    if (status === 404) return byKind;
    if (status >= 300) throw new UpstreamError(`discovery of ${apiVersion} failed with HTTP ${status}`, { status });
    for (const entry of json.resources ?? []) {
      const [name, subresource] = entry.name.split('/');
      if (name === undefined) continue;
      if (subresource !== undefined) {
        const parent = [...byKind.values()].find((r) => r.name === name);
        parent?.subresources.add(subresource);
        continue;
      }
      byKind.set(entry.kind, { name, namespaced: entry.namespaced, kind: entry.kind, subresources: new Set() });
    }
    return byKind;
  }

  function collectionPath(apiVersion: string, resource: ApiResource, namespace: string | undefined): string {
    const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    if (!resource.namespaced) return `${base}/${resource.name}`;
    if (namespace === undefined) return `${base}/${resource.name}`;
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${resource.name}`;
  }

  async function objectPath(ref: ObjectRef): Promise<{ path: string; resource: ApiResource }> {
    const resource = await resourceFor(ref.apiVersion, ref.kind);
    if (resource.namespaced && ref.namespace === undefined) {
      throw new InvalidInputError(`${ref.kind} ${ref.name} is namespaced but no namespace was given`);
    }
    const path = `${collectionPath(ref.apiVersion, resource, ref.namespace)}/${encodeURIComponent(ref.name)}`;
    return { path, resource };
  }

  function failure(what: string, status: number, body: Status): Error {
    const message = `${what}: ${body.message ?? `HTTP ${status}`}`;
    if (status === 404) return new NotFoundError(message);
    if (status === 409) return new ConflictError(message);
    if (status === 400 || status === 422) return new InvalidInputError(message);
    // Server-side apply reports fields missing from the schema as a 500 "failed to create typed
    // patch object"; it is the caller's object that is wrong, not the server.
    if (status === 500 && /failed to create typed patch object/.test(body.message ?? '')) {
      return new InvalidInputError(message);
    }
    return new UpstreamError(message, { status });
  }

  async function applyAt<T extends KubeObject>(object: T, subresource: string, options: ApplyOptions): Promise<T> {
    const ref = refOf(object);
    const { path } = await objectPath(ref);
    const query = new URLSearchParams({
      fieldManager,
      fieldValidation: 'Strict',
      force: String(options.force ?? true),
    });
    if (options.dryRun) query.set('dryRun', 'All');
    const deadline = Date.now() + QUOTA_SETTLE_MS;
    for (let pause = 100; ; pause = Math.min(pause * 2, 1_000)) {
      const { status, json } = await request<T & Status>('PATCH', `${path}${subresource}?${query}`, {
        contentType: 'application/apply-patch+yaml',
        data: object,
      });
      if (status < 300) return json;
      // A ResourceQuota created a moment ago has no usage computed yet, and the apiserver refuses
      // what it counts until the quota controller catches up (usually well under a second).
      const settling = status === 403 && /status unknown for quota/.test(json.message ?? '');
      if (!settling || Date.now() + pause > deadline) throw failure(`apply ${describeRef(ref)}`, status, json);
      await sleep(pause);
    }
  }

  return {
    apply: (object, options = {}) => applyAt(object, '', options),

    async patchStatus<T extends KubeObject>(ref: ObjectRef, status: Record<string, unknown>) {
      const { path, resource } = await objectPath(ref);
      const target = resource.subresources.has('status') ? `${path}/status` : path;
      const { status: code, json } = await request<T & Status>(
        'PATCH',
        `${target}?fieldManager=${encodeURIComponent(fieldManager)}`,
        {
          contentType: 'application/merge-patch+json',
          data: { status },
        },
      );
      if (code >= 300) throw failure(`patch status of ${describeRef(ref)}`, code, json);
      return json as T;
    },

    async patch<T extends KubeObject>(ref: ObjectRef, operations: readonly JsonPatchOperation[]) {
      const { path } = await objectPath(ref);
      const { status, json } = await request<T & Status>(
        'PATCH',
        `${path}?fieldManager=${encodeURIComponent(fieldManager)}`,
        { contentType: 'application/json-patch+json', data: operations },
      );
      if (status === 404) return undefined;
      if (status >= 300) throw failure(`patch ${describeRef(ref)}`, status, json);
      return json as T;
    },

    async get<T extends KubeObject>(ref: ObjectRef) {
      const { path } = await objectPath(ref);
      const { status, json } = await request<T & Status>('GET', path);
      if (status === 404) return undefined;
      if (status >= 300) throw failure(`get ${describeRef(ref)}`, status, json);
      return json as T;
    },

    async list<T extends KubeObject>(
      apiVersion: string,
      kind: string,
      options: { namespace?: string; labelSelector?: string } = {},
    ) {
      const resource = await resourceFor(apiVersion, kind);
      const query = new URLSearchParams();
      if (options.labelSelector !== undefined) query.set('labelSelector', options.labelSelector);
      const path = `${collectionPath(apiVersion, resource, options.namespace)}?${query}`;
      const { status, json } = await request<{ items?: T[] } & Status>('GET', path);
      if (status >= 300) throw failure(`list ${kind}`, status, json);
      // Lists omit apiVersion and kind on items; put them back so items are whole objects.
      return (json.items ?? []).map((item) => ({ ...item, apiVersion, kind }));
    },

    async delete(ref, options = {}) {
      const { path } = await objectPath(ref);
      const { status, json } = await request<Status>('DELETE', path, {
        contentType: 'application/json',
        data: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', ...options },
      });
      if (status === 404) return false;
      if (status >= 300) throw failure(`delete ${describeRef(ref)}`, status, json);
      return true;
    },

    async bind(pod, nodeName) {
      const ref = { apiVersion: 'v1', kind: 'Pod', namespace: pod.namespace, name: pod.name };
      const { path } = await objectPath(ref);
      const { status, json } = await request<Status>('POST', `${path}/binding`, {
        contentType: 'application/json',
        data: {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name: pod.name, namespace: pod.namespace },
          target: { apiVersion: 'v1', kind: 'Node', name: nodeName },
        },
      });
      if (status >= 300) throw failure(`bind ${describeRef(ref)} to node ${nodeName}`, status, json);
    },

    async watch(apiVersion, kind, options, onEvent, onError) {
      const resource = await resourceFor(apiVersion, kind);
      const path = collectionPath(apiVersion, resource, options.namespace);
      const query: Record<string, string | boolean> = { allowWatchBookmarks: false };
      if (options.labelSelector !== undefined) query.labelSelector = options.labelSelector;
      let stopped = false;
      const controller = await new Watch(config).watch(
        path,
        query,
        (phase, object) => {
          if (stopped) return;
          if (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') {
            onEvent(phase, { ...object, apiVersion, kind });
          }
        },
        (error) => {
          if (!stopped) onError(error ?? new UpstreamError(`watch of ${kind} ended`));
        },
      );
      return {
        stop() {
          stopped = true;
          controller.abort();
        },
      };
    },
  };
}

function loadConfig(source: KubeConfig | string): KubeConfig {
  if (source instanceof KubeConfig) return source;
  const config = new KubeConfig();
  config.loadFromFile(source);
  return config;
}

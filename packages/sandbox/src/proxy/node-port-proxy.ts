import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Kube, KubeObject, WatchHandle } from '@breakfix/kube';
import {
  type EndpointSliceObject,
  type NodePortRule,
  nodePortRules,
  type ProxyNode,
  type ServiceObject,
} from './node-port-rules.js';

export interface NodePortProxyOptions {
  kube: Kube;
  /** The simulated nodes and the (loopback) addresses each serves NodePorts on. */
  nodes: readonly ProxyNode[];
  /**
   * The loopback address where the pod at `podAddress` really listens (the pod network's map);
   * undefined for an address no running pod holds. The only way from a pod address to a socket.
   */
  exposureOf: (podAddress: string) => string | undefined;
  log?: (message: string) => void;
}

export interface NodePortProxy {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** `address:nodePort` of every NodePort listening now. */
  listening(): string[];
}

interface Listener {
  server: Server;
  rule: NodePortRule;
}

/**
 * The sandbox's kube-proxy for NodePorts. It watches Services and EndpointSlices, listens on each
 * node's addresses for the NodePorts nodePortRules() says that node serves, closes a listener when
 * its rule goes (connections already made live on, as conntrack keeps them on a node), and pipes
 * every connection to one ready endpoint, picked at random as the iptables proxier does. The pod
 * address is never dialled: the connection goes to the guest's loopback exposure at the
 * endpoint's target port, and is reset when nothing answers there (on a node the client would see
 * the guest's refusal; here the handshake with us has already happened).
 */
export function createNodePortProxy(options: NodePortProxyOptions): NodePortProxy {
  const { kube, nodes } = options;
  const log = options.log ?? (() => {});
  const services = new Map<string, ServiceObject>();
  const slices = new Map<string, EndpointSliceObject>();
  const listeners = new Map<string, Listener>();
  const watches: WatchHandle[] = [];
  const sockets = new Set<Socket>();
  let stopped = false;
  let pending: NodeJS.Immediate | undefined;

  const keyOf = (object: KubeObject) => `${object.metadata.namespace}/${object.metadata.name}`;

  /** Rules follow events at once; events that come together make one pass. */
  function resync(): void {
    if (stopped || pending !== undefined) return;
    pending = setImmediate(() => {
      pending = undefined;
      apply(nodePortRules([...services.values()], [...slices.values()], nodes));
    });
  }

  function apply(rules: readonly NodePortRule[]): void {
    const wanted = new Map(rules.map((rule) => [`${rule.address}:${rule.nodePort}`, rule]));
    for (const [key, listener] of listeners) {
      if (wanted.has(key)) continue;
      listeners.delete(key);
      listener.server.close();
      log(`NodePort ${key} (${listener.rule.service}) closed`);
    }
    for (const [key, rule] of wanted) {
      const current = listeners.get(key);
      if (current !== undefined) {
        current.rule = rule;
        continue;
      }
      listeners.set(key, open(key, rule));
    }
  }

  function open(key: string, rule: NodePortRule): Listener {
    const listener: Listener = { server: createServer(), rule };
    listener.server.on('connection', (client) => forward(client, listener.rule));
    listener.server.once('error', (error) => {
      // Another process holds the port on this address: the NodePort is not served; tried again
      // on the next change.
      log(`NodePort ${key} (${rule.service}) cannot listen: ${error.message}`);
      if (listeners.get(key) === listener) listeners.delete(key);
    });
    listener.server.listen({ host: rule.address, port: rule.nodePort, exclusive: true }, () => {
      log(`NodePort ${key} (${rule.service}) forwards to ${rule.backends.map((b) => `${b.address}:${b.port}`)}`);
    });
    return listener;
  }

  function forward(client: Socket, rule: NodePortRule): void {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    const backend = rule.backends[Math.floor(Math.random() * rule.backends.length)];
    const exposure = backend === undefined ? undefined : options.exposureOf(backend.address);
    if (backend === undefined || exposure === undefined || !exposure.startsWith('127.')) {
      // An endpoint whose pod is gone (the slice has not caught up): nothing there to answer.
      client.resetAndDestroy();
      return;
    }
    // Cluster: the pod sees the node (kube-proxy masquerades); Local: the client's own address.
    const from = rule.policy === 'Local' ? client.remoteAddress : rule.address;
    const upstream = connect({
      host: exposure,
      port: backend.port,
      ...(from?.startsWith('127.') ? { localAddress: from } : {}),
    });
    sockets.add(upstream);
    upstream.on('close', () => sockets.delete(upstream));
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => {
      if (connected) client.destroy();
      else client.resetAndDestroy();
    });
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  }

  async function watch(
    apiVersion: string,
    kind: 'Service' | 'EndpointSlice',
    cache: Map<string, KubeObject>,
  ): Promise<void> {
    // A watch (re)started sees every current object as ADDED but says nothing of what vanished
    // meanwhile: the cache becomes a fresh list, swapped in at once (clearing it and letting the
    // watch refill it would close every NodePort for a moment).
    const current = await kube.list<KubeObject>(apiVersion, kind);
    cache.clear();
    for (const object of current) cache.set(keyOf(object), object);
    resync();
    const handle = await kube.watch<KubeObject>(
      apiVersion,
      kind,
      {},
      (type, object) => {
        if (type === 'DELETED') cache.delete(keyOf(object));
        else cache.set(keyOf(object), object);
        resync();
      },
      (error) => {
        if (stopped) return;
        log(`watch of ${kind} ended (${(error as Error).message ?? error}); restarting`);
        setTimeout(
          () =>
            void watch(apiVersion, kind, cache).catch((e: unknown) => log(`rewatch failed: ${(e as Error).message}`)),
          1_000,
        ).unref();
      },
    );
    watches.push(handle);
  }

  return {
    async start() {
      await watch('v1', 'Service', services);
      await watch('discovery.k8s.io/v1', 'EndpointSlice', slices);
    },
    async stop() {
      stopped = true;
      if (pending !== undefined) clearImmediate(pending);
      for (const handle of watches) handle.stop();
      const closing = [...listeners.values()].map(
        (listener) => new Promise<void>((resolve) => listener.server.close(() => resolve())),
      );
      listeners.clear();
      for (const socket of sockets) socket.destroy();
      await Promise.all(closing);
    },
    listening: () => [...listeners.keys()],
  };
}

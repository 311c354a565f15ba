// The pool worker in its own process, for the `scale` benchmark group (scale.ts):
// `node --import tsx scale-worker.ts <json>`. Wired as apps/pool-worker/src/main.ts wires it (store,
// metrics, NodePort allocator, wake subscriber, capacity guard), minus what needs lab VMs: the
// provisioner boots nothing, and idle reaping (SSH into claimed labs) is off. It answers one JSON
// line per command read on stdin: `reconcile`, `tick`, `memory`, `close`.
import { createInterface } from 'node:readline';
import { createKube } from '@breakfix/kube';
import { parsePoolsConfig } from '@breakfix/manifests';
import { EnvironmentStore, NodePortAllocator } from '@breakfix/pool';
import { Redis } from 'ioredis';
import { createPoolWorker } from '../../apps/pool-worker/src/create-pool-worker.js';
import { createPoolMetrics } from '../../apps/pool-worker/src/metrics.js';

const config = JSON.parse(process.argv[2] ?? '{}') as {
  redisUrl: string;
  kubeconfig: string;
  /** Key prefix of the store and allocator, without the colon; also the queue prefix. */
  prefix: string;
  pools: unknown;
};
const connect = () => new Redis(config.redisUrl, { maxRetriesPerRequest: null });
const kube = createKube({ kubeconfig: config.kubeconfig });
const store = new EnvironmentStore({ redis: connect(), prefix: `${config.prefix}:` });
const redis = connect();
const subscriber = connect();
const allocator = new NodePortAllocator({ redis, range: { first: 30000, last: 32767 }, prefix: `${config.prefix}:` });
const worker = createPoolWorker({
  connection: connect,
  redis,
  store,
  // Nothing to boot (no lab is provisioned: the capacity guard finds no schedulable node); a
  // teardown does what the real one does (provisioner.ts): delete the namespace, close the record.
  provisioner: {
    provision: async () => 'skipped' as const,
    teardown: async (id: string) => {
      const env = await store.get(id);
      await kube.delete({ apiVersion: 'v1', kind: 'Namespace', name: env.namespace });
      if (env.state === 'claimed') await store.apply(id, 'release');
      if (env.state !== 'deleted') await store.apply(id, 'delete').catch(() => undefined);
    },
    namespaceFor: (id: string) => `lab-${id}`,
  },
  pools: parsePoolsConfig(config.pools),
  prefix: config.prefix,
  kube,
  metrics: createPoolMetrics(),
  allocator,
  subscriber,
  capacity: { nodeSelector: 'kubevirt.io/schedulable=true' },
});

const reply = (line: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ ...line, memory: process.memoryUsage() })}\n`);

reply({ op: 'started' });
for await (const line of createInterface({ input: process.stdin })) {
  const op = line.trim();
  const started = performance.now();
  try {
    if (op === 'reconcile') {
      const result = await worker.reconcile();
      reply({
        op,
        ms: performance.now() - started,
        summary: {
          orphanNamespaces: result.orphanNamespaces.length,
          orphanRecords: result.orphanRecords.length,
          resumed: result.resumed.length,
        },
      });
    } else if (op === 'tick') {
      const result = await worker.tick();
      reply({
        op,
        ms: performance.now() - started,
        summary: { ran: result.ran, enqueued: result.enqueued.length, expired: result.expired.length },
      });
    } else if (op === 'memory') {
      reply({ op });
    } else if (op === 'close') {
      await worker.close();
      for (const connection of [redis, subscriber]) connection.disconnect();
      reply({ op });
      process.exit(0);
    } else {
      reply({ op, error: `unknown command ${op}` });
    }
  } catch (error) {
    reply({ op, ms: performance.now() - started, error: (error as Error).message });
  }
}

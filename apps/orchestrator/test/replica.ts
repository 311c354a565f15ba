/**
 * A second orchestrator replica in a process of its own, so a test can kill it without a clean
 * close (SIGKILL) and see what the other replica makes of that. Built by the same wiring function
 * as the first; reads its settings as JSON from BREAKFIX_REPLICA (see ReplicaSettings), serves on a
 * free loopback port and prints `listening <port>` once it takes connections.
 */
import type { AddressInfo } from 'node:net';
import { createKube } from '@breakfix/kube';
import { parsePlatformConfig, parsePoolsConfig } from '@breakfix/manifests';
import type { SshKeyPair } from '@breakfix/secrets';
import { serve } from '@hono/node-server';
import type { ApiToken } from '../src/http/auth.js';
import { wireOrchestrator } from '../src/wire.js';

export interface ReplicaSettings {
  redisUrl: string;
  kubeconfig: string;
  prefix: string;
  tokens: ApiToken[];
  operatorKey: SshKeyPair;
  pools: unknown;
  watchHeartbeatMs: number;
  maxObserverBufferBytes?: number;
}

const settings = JSON.parse(process.env.BREAKFIX_REPLICA ?? '{}') as ReplicaSettings;
const orchestrator = wireOrchestrator({
  redisUrl: settings.redisUrl,
  kube: createKube({ kubeconfig: settings.kubeconfig }),
  pools: parsePoolsConfig(settings.pools),
  platform: parsePlatformConfig({ operator: { publicKey: settings.operatorKey.publicKey } }),
  operatorKey: settings.operatorKey,
  catalog: new Map(),
  tokens: settings.tokens,
  prefix: settings.prefix,
  keepConnectionsEveryMs: 0,
  terminals: {
    watchHeartbeatMs: settings.watchHeartbeatMs,
    ...(settings.maxObserverBufferBytes === undefined
      ? {}
      : { maxObserverBufferBytes: settings.maxObserverBufferBytes }),
  },
  log: (message) => process.stderr.write(`replica: ${message}\n`),
});
const server = serve({ fetch: orchestrator.app.fetch, port: 0, hostname: '127.0.0.1' });
orchestrator.terminals.attach(server);
server.once('listening', () => process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`));
// The test ends this process with SIGKILL (a replica that dies) or closes its stdin (a clean stop).
process.stdin.resume();
process.stdin.once('end', () => {
  server.close();
  orchestrator.close().finally(() => process.exit(0));
});

import type { PlatformConfig } from '@breakfix/manifests';
import type { SshKeyPair } from '@breakfix/secrets';
import type { KeptConnection, SshRunner } from '@breakfix/ssh';
import type { EnvironmentStore } from './environment-store.js';

export interface WarmConnectionsOptions {
  store: Pick<EnvironmentStore, 'readyIds' | 'get'>;
  /** The claim path's runner: the connections it keeps are the ones claims then use. */
  ssh: SshRunner;
  platform: PlatformConfig;
  operatorKey: SshKeyPair;
  /** The pools whose ready labs get a kept connection. */
  pools: readonly string[];
  /** How often the ready sets are read. Default 1 s. */
  intervalMs?: number;
  log?: (message: string) => void;
}

/**
 * Keeps one authenticated operator SSH connection open to every node of every ready lab, so a
 * claim starts its commands on an open connection instead of paying a handshake (ADR 22). The
 * ready sets are read every `intervalMs`; a lab that became ready gets its connections, one that
 * left the set (claimed, failed, released) loses them: they then close when idle, after the
 * claim's last command. The SSH runner re-opens a kept connection that closes (sshd restarted,
 * network blip) and keepalive notices dead ones; a claim on a connection that went silent moves
 * to a new one (SshRunnerOptions.channelOpenTimeoutMs). Correctness never depends on it: without
 * a kept connection, a claim opens its own.
 */
export function createWarmConnections(options: WarmConnectionsOptions) {
  const { store, ssh, platform, operatorKey } = options;
  const log = options.log ?? (() => {});
  const intervalMs = options.intervalMs ?? 1_000;
  /** Kept connections by lab id. */
  const held = new Map<string, KeptConnection[]>();
  let timer: NodeJS.Timeout | undefined;
  let syncing: Promise<void> | undefined;
  let stopped = false;

  async function syncOnce(): Promise<void> {
    const ready = new Set((await Promise.all(options.pools.map((pool) => store.readyIds(pool)))).flat());
    for (const [id, kept] of held) {
      if (ready.has(id)) continue;
      for (const connection of kept) connection.stop();
      held.delete(id);
    }
    const fresh = [...ready].filter((id) => !held.has(id));
    const envs = await Promise.all(fresh.map((id) => store.get(id).catch(() => undefined)));
    for (const env of envs) {
      if (stopped || env === undefined || env.state !== 'ready' || held.has(env.id)) continue;
      const nodes = env.nodes;
      if (nodes === undefined) continue; // recorded before addresses were: claims connect themselves
      held.set(
        env.id,
        Object.entries(env.hostKeys ?? {}).flatMap(([name, hostKey]) => {
          const node = nodes[name];
          if (node === undefined) return [];
          const kept = ssh.keep({
            host: node.address,
            username: platform.operator.user,
            privateKey: operatorKey.privateKey,
            hostKey,
          });
          kept
            .ready()
            .catch((error: unknown) => log(`${env.id}/${name}: no kept connection yet: ${(error as Error).message}`));
          return [kept];
        }),
      );
    }
  }

  /** One pass over the ready sets; passes never overlap (a call during one waits for it). */
  function sync(): Promise<void> {
    syncing ??= syncOnce().finally(() => {
      syncing = undefined;
    });
    return syncing;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      sync()
        .catch((error: unknown) => log(`kept connections: ${(error as Error).message}`))
        .finally(schedule);
    }, intervalMs);
    timer.unref();
  }

  return {
    /** Starts reading the ready sets every intervalMs. */
    start(): void {
      stopped = false;
      if (timer === undefined) schedule();
    },
    sync,
    /**
     * Reads the ready sets now and waits until every ready lab's connections are open (or their
     * attempt failed): a warm pool as a claim should find it. Resolves with how many are open.
     */
    async settled(): Promise<{ open: number; failed: number }> {
      await sync();
      const outcomes = await Promise.allSettled([...held.values()].flat().map((kept) => kept.ready()));
      return {
        open: outcomes.filter((o) => o.status === 'fulfilled').length,
        failed: outcomes.filter((o) => o.status === 'rejected').length,
      };
    },
    /** Labs with kept connections now. */
    labs(): string[] {
      return [...held.keys()];
    },
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      await syncing?.catch(() => undefined);
      for (const kept of held.values()) for (const connection of kept) connection.stop();
      held.clear();
    },
  };
}

export type WarmConnections = ReturnType<typeof createWarmConnections>;

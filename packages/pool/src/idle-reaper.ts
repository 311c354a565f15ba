import { performance } from 'node:perf_hooks';
import { idleRule, type PoolConfig } from '@breakfix/manifests';
import type { SshRunner } from '@breakfix/ssh';
import type { Environment, EnvironmentStore } from './environment-store.js';
import type { LabTargets } from './lab-access.js';
import { type LabActivityRecords, publishLabEvent } from './lab-activity.js';
import { type NodeSessions, probeLearnerSessions } from './lab-sessions.js';

export interface IdleReaperOptions {
  store: EnvironmentStore;
  activity: LabActivityRecords;
  /** The operator's SSH targets of a lab's nodes (lab-access.ts `targets`). */
  targets: (env: Environment) => Promise<LabTargets>;
  ssh: SshRunner;
  /** The learner's unix account on the nodes (platform `learner.user`). */
  learnerUser: string;
  pools: readonly PoolConfig[];
  /** For the lab events (idle-warning, activity-reset). */
  redis: Parameters<typeof publishLabEvent>[0];
  /** Lab-events channel prefix. Default `breakfix`. */
  eventsPrefix?: string;
  now?: () => number;
  /** A lab's nodes are asked about sessions at most this often. Default 60 s. */
  probeIntervalMs?: number;
  /** Labs probed at once. Default 4. */
  concurrency?: number;
  /** Deadline of one node's probe. Default 10 s. */
  probeTimeoutMs?: number;
  /**
   * A pass takes up no new lab after this long (wall time), so a tick that holds the worker's
   * lock stays short when many labs cannot be reached; the labs asked longest ago go first, so
   * the rest get their turn next pass. Default 15 s.
   */
  passBudgetMs?: number;
  log?: (message: string) => void;
}

/** What one pass did, lab ids by outcome. */
export interface IdleReport {
  warned: string[];
  reset: string[];
  released: string[];
  /** Labs whose probe failed this pass: left alone (unreachable is not idle). */
  unreachable: string[];
}

/**
 * Idle reaping (docs/adr: idle labs). A claimed lab of a pool with `idleMinutes` is idle when its
 * last activity — the later of its claim, its last extension, browser-terminal activity, and the
 * terminal activity of the learner's SSH sessions on any node — is that long ago and no browser
 * terminal is open. The learner is warned `idleWarningMinutes` ahead (an `idle-warning` lab event
 * and the lab's `idle` field, which the Slack bot turns into a DM); activity after the warning
 * withdraws it (`activity-reset`); the release itself is decided atomically by the store.
 *
 * The nodes are only asked when the lab is near its warning time (activity known from elsewhere
 * is enough before), at most once per `probeIntervalMs`, and a lab whose probe fails is skipped:
 * neither warned nor released. The probe memory is per process: a second replica probes at most
 * as often again.
 */
export function createIdleReaper(options: IdleReaperOptions) {
  const { store, activity } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const probeIntervalMs = options.probeIntervalMs ?? 60_000;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const pools = new Map(options.pools.map((pool) => [pool.name, pool]));
  const probedAt = new Map<string, number>();
  const publish = (event: Parameters<typeof publishLabEvent>[1]) =>
    publishLabEvent(options.redis, event, options.eventsPrefix).catch((error: unknown) =>
      log(`${event.labId}: publishing ${event.kind} failed: ${(error as Error).message}`),
    );

  async function lastActivity(env: Environment): Promise<number> {
    return Math.max(env.claimedAt ?? 0, env.extendedAt ?? 0, (await activity.lastActivity(env.id)) ?? 0);
  }

  /** The learner's SSH sessions, folded into the lab's last activity. Throws when a node cannot be asked. */
  async function probe(env: Environment, at: number): Promise<NodeSessions[]> {
    const lab = await options.targets(env);
    const nodes = await probeLearnerSessions(options.ssh, lab.nodes, options.learnerUser, {
      ...(options.probeTimeoutMs === undefined ? {} : { timeoutMs: options.probeTimeoutMs }),
    });
    probedAt.set(env.id, at);
    // A session without a terminal (a command, a forward) is activity for as long as it runs.
    const seen = nodes
      .flatMap((node) => node.sessions)
      .map((session) => (session.idleSeconds === undefined ? at : at - session.idleSeconds * 1000));
    if (seen.length > 0) await activity.recordActivity(env.id, Math.max(...seen));
    return nodes;
  }

  async function withdraw(env: Environment, report: IdleReport): Promise<void> {
    await store.clearIdleWarning(env.id);
    env.idle = undefined;
    report.reset.push(env.id);
    await publish({ labId: env.id, kind: 'activity-reset', message: 'Welcome back: this lab is staying.' });
  }

  async function consider(env: Environment, report: IdleReport): Promise<void> {
    const pool = pools.get(env.pool);
    const rule = pool === undefined ? undefined : idleRule(pool);
    if (rule === undefined || env.state !== 'claimed') return;
    const at = now();
    if ((await activity.openTerminals(env.id)) > 0) await activity.recordActivity(env.id, at);
    let last = await lastActivity(env);
    const warnFrom = () => last + rule.idleMs - rule.warningMs;

    if (at >= warnFrom()) {
      const releaseDue = env.idle !== undefined && at >= env.idle.releaseAt;
      const fresh = at - (probedAt.get(env.id) ?? Number.NEGATIVE_INFINITY) < probeIntervalMs;
      // The release always rests on a probe of this pass; a warning on one at most an interval old.
      if (releaseDue || !fresh) {
        try {
          await probe(env, at);
        } catch (error) {
          log(`${env.id}: session probe failed, lab left alone: ${(error as Error).message}`);
          report.unreachable.push(env.id);
          return;
        }
        last = await lastActivity(env);
      }
    }

    if (at < warnFrom()) {
      if (env.idle !== undefined) await withdraw(env, report);
      return;
    }
    if (env.idle === undefined) {
      // The learner always gets the whole warning, even when this pass comes late.
      const releaseAt = Math.max(last + rule.idleMs, at + rule.warningMs);
      if (!(await store.warnIdle(env.id, { warnedAt: at, releaseAt }))) return;
      env.idle = { warnedAt: at, releaseAt };
      report.warned.push(env.id);
      const minutes = Math.max(1, Math.round((releaseAt - at) / 60_000));
      await publish({
        labId: env.id,
        kind: 'idle-warning',
        message: `No activity for a while: this lab will be released in ${minutes} minute${minutes === 1 ? '' : 's'} unless you use it or extend it.`,
        releaseAt,
      });
      return;
    }
    if (at < env.idle.releaseAt) return;
    const result = await store.releaseIdle(env.id, {
      activityKey: activity.activityKey(env.id),
      idleMs: rule.idleMs,
      now: at,
    });
    if (result.outcome === 'idle') {
      env.state = 'releasing';
      probedAt.delete(env.id);
      report.released.push(env.id);
      log(`${env.id}: released after ${Math.round((at - result.lastActivity) / 60_000)} minutes without activity`);
    } else if (result.outcome === 'not-claimed' && result.state !== undefined) {
      env.state = result.state;
    }
    // 'active': activity landed after this pass looked; the next pass withdraws the warning.
  }

  return {
    /**
     * One pass over the claimed labs of `environments` (the tick's list, corrected in place).
     * Released labs come back in `released`; the caller queues their teardown.
     */
    async reap(environments: Environment[]): Promise<IdleReport> {
      const report: IdleReport = { warned: [], reset: [], released: [], unreachable: [] };
      // A warning left from before its pool stopped idling labs out is withdrawn.
      for (const env of environments.filter((e) => e.state === 'claimed' && e.idle !== undefined && !idleOf(e))) {
        await withdraw(env, report);
      }
      const candidates = environments
        .filter((env) => env.state === 'claimed' && idleOf(env) !== undefined)
        .sort((a, b) => (probedAt.get(a.id) ?? 0) - (probedAt.get(b.id) ?? 0));
      const started = performance.now();
      const budgetMs = options.passBudgetMs ?? 15_000;
      let next = 0;
      const lane = async () => {
        while (next < candidates.length && performance.now() - started < budgetMs) {
          const env = candidates[next++] as Environment;
          await consider(env, report).catch((error: unknown) => {
            report.unreachable.push(env.id);
            log(`${env.id}: idle check failed, lab left alone: ${(error as Error).message}`);
          });
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, candidates.length) }, lane));
      const live = new Set(environments.filter((env) => env.state === 'claimed').map((env) => env.id));
      for (const id of probedAt.keys()) if (!live.has(id)) probedAt.delete(id);
      return report;
    },
  };

  function idleOf(env: Environment) {
    const pool = pools.get(env.pool);
    return pool === undefined ? undefined : idleRule(pool);
  }
}

export type IdleReaper = ReturnType<typeof createIdleReaper>;

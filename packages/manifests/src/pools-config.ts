import { InvalidInputError } from '@breakfix/core';
import { z } from 'zod';
import { MAX_WORKERS } from './catalog.js';
import { CNIS } from './spec.js';

const poolSchema = z
  .strictObject({
    /** Pool key, e.g. `k8s-1.36-3n-medium`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,40}$/, 'lowercase letters, digits, dots and dashes'),
    kubernetesVersion: z.string(),
    workers: z.number().int().min(0).max(MAX_WORKERS),
    /** The labs' pod network; a scenario is served only by pools of its own `cni` (default flannel). */
    cni: z.enum(CNIS).default('flannel'),
    size: z.enum(['small', 'medium', 'large']).default('medium'),
    /** Ready labs to keep. */
    min: z.number().int().min(0),
    /** Labs of this pool in any live state at most (ready + booting + claimed). */
    max: z.number().int().min(1),
    maxConcurrentProvisions: z.number().int().min(1).default(2),
    /**
     * Release a claimed lab after this many minutes without activity: no learner SSH session
     * with terminal activity on any node, no open browser terminal, no extension. Unset: never.
     */
    idleMinutes: z.number().int().min(2).optional(),
    /** How long before an idle release the learner is warned. Default min(5, idleMinutes / 2). */
    idleWarningMinutes: z.number().positive().optional(),
    /**
     * Windows that raise `min`, e.g. a workshop: `{ from: 2026-12-01T08:30:00Z, to: ..., min: 20 }`.
     * Provisioning starts when the window opens, so open it a boot time before people arrive.
     */
    schedule: z
      .array(
        z
          .strictObject({
            from: z.iso.datetime({ offset: true }),
            to: z.iso.datetime({ offset: true }),
            min: z.number().int().min(0),
          })
          .refine((w) => Date.parse(w.from) < Date.parse(w.to), { message: 'from must be before to', path: ['to'] }),
      )
      .default([]),
  })
  .refine((pool) => pool.min <= pool.max, { message: 'min must not exceed max', path: ['min'] })
  .refine((pool) => pool.idleWarningMinutes === undefined || pool.idleMinutes !== undefined, {
    message: 'idleWarningMinutes needs idleMinutes (the idle time it warns ahead of)',
    path: ['idleWarningMinutes'],
  })
  .refine((pool) => (pool.idleWarningMinutes ?? 0) < (pool.idleMinutes ?? Number.POSITIVE_INFINITY), {
    message: 'idleWarningMinutes must be less than idleMinutes',
    path: ['idleWarningMinutes'],
  })
  .refine((pool) => pool.schedule.every((w) => w.min <= pool.max), {
    message: 'a scheduled min must not exceed max',
    path: ['schedule'],
  });

const configSchema = z.strictObject({ pools: z.array(poolSchema).min(1) });

export type PoolConfig = z.output<typeof poolSchema>;

/** A pool's idle rule in milliseconds, or undefined when its labs never idle out. */
export function idleRule(
  pool: Pick<PoolConfig, 'idleMinutes' | 'idleWarningMinutes'>,
): { idleMs: number; warningMs: number } | undefined {
  if (pool.idleMinutes === undefined) return undefined;
  const warningMinutes = pool.idleWarningMinutes ?? Math.min(5, pool.idleMinutes / 2);
  return { idleMs: pool.idleMinutes * 60_000, warningMs: warningMinutes * 60_000 };
}

/** Parses the pools file; errors name the pool index and field. */
export function parsePoolsConfig(input: unknown): PoolConfig[] {
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidInputError(
      `invalid pools config: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`,
    );
  }
  const names = parsed.data.pools.map((p) => p.name);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined)
    throw new InvalidInputError(`invalid pools config: pool "${duplicate}" is defined twice`);
  return parsed.data.pools;
}

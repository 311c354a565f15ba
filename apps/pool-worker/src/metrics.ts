import { ENVIRONMENT_STATES, type EnvironmentState } from '@breakfix/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the pool worker reports to Prometheus. */
export function createPoolMetrics(registry = new Registry()) {
  const environments = new Gauge({
    name: 'breakfix_pool_environments',
    help: 'Environments per pool and state, as of the last tick',
    labelNames: ['pool', 'state'] as const,
    registers: [registry],
  });
  const provisionSeconds = new Histogram({
    name: 'breakfix_provision_duration_seconds',
    help: 'From a provision job starting to its environment being ready or failed',
    labelNames: ['pool', 'outcome'] as const,
    buckets: [1, 5, 15, 30, 60, 90, 120, 180, 300, 600, 900],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'breakfix_provision_failures_total',
    help: 'Provisions that failed, by reason',
    labelNames: ['pool', 'reason'] as const,
    registers: [registry],
  });
  return {
    registry,
    recordCounts(pool: string, counts: Record<EnvironmentState, number>): void {
      for (const state of ENVIRONMENT_STATES) environments.set({ pool, state }, counts[state]);
    },
    recordProvision(pool: string, outcome: string, seconds: number): void {
      provisionSeconds.observe({ pool, outcome }, seconds);
    },
    recordFailure(pool: string, reason: string): void {
      failures.inc({ pool, reason });
    },
  };
}

export type PoolMetrics = ReturnType<typeof createPoolMetrics>;

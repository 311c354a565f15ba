import { Counter, Histogram, Registry } from 'prom-client';

/** The API's Prometheus metrics, in their own registry (one per app, so tests do not share). */
export function createApiMetrics(registry = new Registry()) {
  const requests = new Histogram({
    name: 'breakfix_http_request_duration_seconds',
    help: 'HTTP requests by route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const claims = new Counter({
    name: 'breakfix_claims_total',
    help: 'Claims by outcome (claimed, replayed, or the error code)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const claimSeconds = new Histogram({
    name: 'breakfix_claim_duration_seconds',
    help: 'Claims from the atomic pick to connection details (NodePort, key, break), by pool and outcome',
    labelNames: ['pool', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
    registers: [registry],
  });
  return {
    registry,
    claimDuration(pool: string, outcome: string, seconds: number) {
      claimSeconds.observe({ pool, outcome }, seconds);
    },
    observe(method: string, route: string, status: number, seconds: number) {
      requests.observe({ method, route, status: String(status) }, seconds);
    },
    claim(outcome: string) {
      claims.inc({ outcome });
    },
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;

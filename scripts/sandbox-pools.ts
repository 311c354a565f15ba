// The pools `npm run sandbox` runs: simulated labs without workers on flannel, which is what the
// simulator scenarios need. Its own module so tests/deploy/catalog-pools.test.ts can check it.

/** The demo pool (packages/manifests/src/pools-config.ts's input shape). */
export const DEMO_POOL = {
  name: 'demo',
  kubernetesVersion: '1.36',
  workers: 0,
  cni: 'flannel',
  size: 'small',
  min: 2,
  max: 4,
  /** Released after half an hour without a learner session or browser terminal (after a warning). */
  idleMinutes: 30,
} as const;

export const SANDBOX_POOLS = { pools: [DEMO_POOL] };

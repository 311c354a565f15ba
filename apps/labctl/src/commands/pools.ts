import { parseArgs } from 'node:util';
import { connect } from '../api/connect.js';
import { table } from '../api/table.js';

export async function pools(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean', default: false } }, strict: true });
  const { pools } = await connect().pools.list();
  if (values.json) {
    process.stdout.write(`${JSON.stringify(pools, null, 2)}\n`);
    return;
  }
  process.stdout.write(
    table(
      ['POOL', 'K8S', 'WORKERS', 'READY', 'MIN', 'TARGET', 'BOOTING', 'CLAIMED', 'MAX', 'FAILED', 'WAITING', 'HELD BY'],
      pools.map((p) => [
        p.name,
        p.kubernetesVersion,
        p.workers,
        p.counts.ready,
        p.min,
        p.target ?? '-',
        p.counts.provisioning,
        p.counts.claimed,
        p.max,
        p.counts.failed,
        p.waiting,
        p.heldBy ?? '',
      ]),
    ),
  );
  for (const p of pools) {
    if (p.lastFailure === null) continue;
    const ago = Math.max(0, Math.round((Date.now() - p.lastFailure.at) / 60_000));
    process.stdout.write(
      `\n${p.name}: last failed provision ${ago} min ago (lab ${p.lastFailure.lab}): ${p.lastFailure.reason}\n`,
    );
  }
}

import { Command } from 'commander';
import { connect } from '../api/connect.js';
import { table } from '../api/table.js';
import { examples, jsonOption } from '../cli/help.js';

export function poolsCommand(): Command {
  const command = new Command('pools')
    .summary('pools: ready / booting / claimed against targets')
    .description(
      'Every pool of the platform: ready, booting, claimed and failed labs against min, target and max, ' +
        'learners waiting, and the last failed provision with its reason.',
    )
    .addOption(jsonOption())
    .action((options: { json?: boolean }) => pools(options));
  return examples(command, ['labctl pools', 'labctl pools --json']);
}

async function pools(values: { json?: boolean }): Promise<void> {
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

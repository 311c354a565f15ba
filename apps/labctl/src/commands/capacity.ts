import { InvalidInputError } from '@breakfix/core';
import {
  LAUNCHER_SIDECARS,
  labFootprint,
  labsPerHost,
  MEASURED_NODE_MEMORY,
  measuredLabMemoryMiB,
  parseMemoryMiB,
  SIZE_PROFILES,
  type SizeProfileName,
} from '@breakfix/manifests';
import { Command, Option } from 'commander';
import { completes } from '../cli/completion/index.js';
import { examples, jsonOption, wholeNumber } from '../cli/help.js';

interface CapacityOptions {
  hostMemory?: string;
  hostCpu?: string;
  workers?: string;
  size?: string;
  json?: boolean;
}

export function capacityCommand(): Command {
  const command = new Command('capacity')
    .summary('how many labs fit on one host')
    .description(
      'How many labs fit on one host, per size and topology: by what the labs request (the same requests and ' +
        'overheads the manifests use: the guest memory request, KubeVirt overhead, virt-launcher support ' +
        'containers), which is what the scheduler packs by, and by what labs were measured to hold (used memory ' +
        'and page cache of real lab nodes, at most their guest size), which is what the host needs when no ' +
        'page is shared between labs. The small profile overcommits memory: see the operator guide on KSM.',
    )
    .addOption(
      completes(new Option('--host-memory <quantity>', "the host's allocatable memory, e.g. 64Gi (required)"), {
        words: ['16Gi', '32Gi', '64Gi', '128Gi', '256Gi'],
      }),
    )
    .option('--host-cpu <cores>', "the host's allocatable CPU cores")
    .addOption(new Option('--workers <n>', 'workers per lab (default: 0 and 2)').argParser(wholeNumber()))
    .addOption(
      new Option('--size <profile>', 'VM size profile (default: every one)').choices(Object.keys(SIZE_PROFILES)),
    )
    .addOption(jsonOption())
    .action((options: CapacityOptions) => capacity(options));
  return examples(command, [
    'labctl capacity --host-memory 64Gi',
    'labctl capacity --host-memory 256Gi --host-cpu 32 --workers 2 --size medium',
    'labctl capacity --host-memory 64Gi --json',
  ]);
}

async function capacity(values: CapacityOptions): Promise<void> {
  if (values.hostMemory === undefined)
    throw new InvalidInputError('--host-memory is required, e.g. --host-memory 64Gi');
  let memoryMiB: number;
  try {
    memoryMiB = parseMemoryMiB(values.hostMemory);
  } catch (error) {
    throw new InvalidInputError(`--host-memory: ${(error as Error).message}`);
  }
  const cpuMilli = values.hostCpu === undefined ? undefined : Math.round(Number(values.hostCpu) * 1000);
  if (cpuMilli !== undefined && !(cpuMilli > 0))
    throw new InvalidInputError('--host-cpu must be a number of cores, e.g. 32');
  const sizes = (values.size === undefined ? Object.keys(SIZE_PROFILES) : [values.size]) as SizeProfileName[];
  for (const size of sizes) {
    if (!(size in SIZE_PROFILES))
      throw new InvalidInputError(`--size must be one of ${Object.keys(SIZE_PROFILES).join(', ')}`);
  }
  const workerCounts = values.workers === undefined ? [0, 2] : [Number(values.workers)];

  const rows = sizes.flatMap((size) =>
    workerCounts.map((workers) => {
      const footprint = labFootprint({ workers, size });
      const fit = labsPerHost({ memoryMiB, ...(cpuMilli === undefined ? {} : { cpuMilli }) }, { workers, size });
      const measuredPerLabMiB = measuredLabMemoryMiB({ workers, size });
      return {
        size,
        vms: footprint.vms,
        memoryPerLabMiB: footprint.memoryMiB,
        cpuPerLabMilli: footprint.cpuMilli,
        ...fit,
        measuredMemoryPerLabMiB: measuredPerLabMiB,
        labsByMeasured: Math.min(fit.labs, Math.floor(memoryMiB / measuredPerLabMiB)),
      };
    }),
  );
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({ hostMemoryMiB: memoryMiB, hostCpuMilli: cpuMilli ?? null, rows }, null, 2)}\n`,
    );
    return;
  }
  const header = [
    'SIZE',
    'VMS',
    'MEMORY/LAB',
    'CPU/LAB',
    'LABS/HOST',
    'LIMITED BY',
    'MEASURED/LAB',
    'LABS BY MEASURED',
  ];
  const table = [
    header,
    ...rows.map((r) => [
      r.size,
      String(r.vms),
      `${(r.memoryPerLabMiB / 1024).toFixed(1)} GiB`,
      `${r.cpuPerLabMilli / 1000}`,
      String(r.labs),
      r.limitedBy,
      `${(r.measuredMemoryPerLabMiB / 1024).toFixed(1)} GiB`,
      String(r.labsByMeasured),
    ]),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  for (const row of table)
    process.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  process.stdout.write(
    `\nper VM: guest memory request + ${'0.4'} GiB KubeVirt overhead + virt-launcher support containers (${LAUNCHER_SIDECARS.cpuMilli}m CPU, ${LAUNCHER_SIDECARS.memoryMiB} MiB); host: ${(memoryMiB / 1024).toFixed(1)} GiB allocatable\n` +
      `measured per node (real labs, mid-scenario): control plane ${MEASURED_NODE_MEMORY['control-plane'].usedMiB} MiB used + ${MEASURED_NODE_MEMORY['control-plane'].cacheMiB} MiB cache, worker ${MEASURED_NODE_MEMORY.worker.usedMiB} + ${MEASURED_NODE_MEMORY.worker.cacheMiB}; small labs request less than their guests (KubeVirt memory overcommit): the host needs the measured figure unless KSM shares their identical pages\n`,
  );
}

import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InvalidInputError, NotFoundError } from '@breakfix/core';
import { KUBERNETES_RELEASES, SIZE_PROFILES, type SizeProfileName } from '@breakfix/manifests';
import {
  DEFAULT_CATALOG_DIR,
  formatProblem,
  importInstruqt,
  importKillercoda,
  lintCatalog,
  lintScenario,
  loadCatalog,
  type Problem,
  scaffoldScenario,
} from '@breakfix/scenarios';
import { Argument, Command, Option } from 'commander';
import { completes } from '../cli/completion/index.js';
import { catalogOption, examples, jsonOption } from '../cli/help.js';
import { createProgress } from '../cli/progress.js';
import type { NodeChoice, ScenarioTestFlags } from './scenario-test.js';

const write = (line: string) => process.stdout.write(`${line}\n`);

export function scenarioCommand(): Command {
  const command = new Command('scenario')
    .summary('list, lint, test, scaffold and import scenarios')
    .description('Work on the scenario catalog: list, lint, test, scaffold and import scenarios.')
    .addCommand(listCommand())
    .addCommand(lintCommand())
    .addCommand(testCommand())
    .addCommand(newCommand())
    .addCommand(importCommand());
  return examples(command, [
    'labctl scenario list',
    'labctl scenario lint all',
    'labctl scenario test sim-kubeconfig-drift',
    'labctl scenario new kubelet-flapping',
  ]);
}

function listCommand(): Command {
  const command = new Command('list')
    .summary('the scenarios of the catalog')
    .description("The scenarios of the catalog (default: the repository's scenarios/ folder).")
    .addOption(jsonOption())
    .addOption(catalogOption())
    .action((options: { json?: boolean; catalog?: string }) => list(options));
  return examples(command, ['labctl scenario list', 'labctl scenario list --json --catalog ./my-catalog']);
}

async function list(values: { json?: boolean; catalog?: string }): Promise<void> {
  const catalog = [...loadCatalog(values.catalog ?? DEFAULT_CATALOG_DIR).values()];
  if (values.json) {
    write(
      JSON.stringify(
        catalog.map((s) => ({
          id: s.id,
          title: s.title,
          difficulty: s.difficulty,
          tags: s.tags,
          kubernetesVersions: s.kubernetesVersions,
          topology: s.topology,
          cni: s.cni,
          timeLimitMinutes: s.timeLimitMinutes,
          egress: s.egress,
          simulator: s.simulator,
          hints: s.hints.length,
          decoys: s.decoys.map((d) => d.file),
        })),
        null,
        2,
      ),
    );
    return;
  }
  const rows = [
    ['ID', 'DIFFICULTY', 'WORKERS', 'MINUTES', 'TAGS'],
    ...catalog.map((s) => [
      s.id,
      s.difficulty,
      String(s.topology.workers),
      String(s.timeLimitMinutes),
      s.tags.join(',') + (s.simulator ? ' (simulator only)' : ''),
    ]),
  ];
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const row of rows)
    write(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}

function lintCommand(): Command {
  const command = new Command('lint')
    .summary('check scenarios before they reach a learner')
    .description(
      'Schema, referenced files, shellcheck, versions, topology, decoys and the script rules (functions ' +
        'defined nowhere, check kubectl without --request-timeout, node names no lab has); each problem ' +
        'names its file and field or line. Exit code 1 when there is any problem.',
    )
    .addArgument(
      completes(new Argument('<scenario>', 'a scenario folder, a scenario id of the catalog, or all'), {
        words: ['all'],
        scenarios: true,
        files: 'dirs',
      }),
    )
    .addOption(catalogOption())
    .action((what: string, options: { catalog?: string }) => lint(what, options));
  return examples(command, [
    'labctl scenario lint all',
    'labctl scenario lint kubelet-stopped',
    'labctl scenario lint ./scenarios/my-scenario',
  ]);
}

async function lint(what: string, values: { catalog?: string }): Promise<void> {
  const catalogDir = values.catalog ?? DEFAULT_CATALOG_DIR;
  const problems: Problem[] =
    what === 'all' ? await lintCatalog(catalogDir) : await lintScenario(scenarioFolder(what, catalogDir));
  for (const problem of problems) write(formatProblem(problem));
  if (problems.length > 0) {
    process.stderr.write(`labctl: ${problems.length} problem(s)\n`);
    process.exitCode = 1;
    return;
  }
  write(what === 'all' ? `${loadCatalog(catalogDir).size} scenarios, no problems` : `${what}: no problems`);
}

/** A folder as given, else the catalog's folder of that id. */
function scenarioFolder(what: string, catalogDir: string): string {
  if (existsSync(what)) return resolve(what);
  if (!what.includes('/') && existsSync(join(catalogDir, what, 'scenario.yaml'))) return join(catalogDir, what);
  throw new NotFoundError(`no scenario folder ${what}, and no scenario "${what}" in ${catalogDir}`, {
    hint: 'name a folder, an id of `labctl scenario list`, or all',
  });
}

interface TestOptions extends ScenarioTestFlags {
  catalog?: string;
  size?: SizeProfileName;
  nodes?: NodeChoice;
  all?: boolean;
  keep?: boolean;
  json?: boolean;
}

function testCommand(): Command {
  const command = new Command('test')
    .summary('prove scenarios on real or simulated labs')
    .description(
      'Provision a lab, break it, expect check to fail with feedback, apply each decoy and expect check ' +
        'to keep failing, solve, expect check to pass. Without --kubeconfig it uses the sandbox of ' +
        '`npm run sandbox` (.breakfix/sandbox.json): simulator-only scenarios get simulated nodes, every ' +
        'other scenario real guests booted under QEMU from the golden image (minutes per lab), or with ' +
        '--nodes container|auto container nodes of that image (docs/adr/0037). Scenarios ' +
        'of one release and shape share a lab while each leaves it solved and every node Ready. ' +
        '--json prints one line per scenario and release ({"scenario","version","ok","seconds":{phase:s},...}) ' +
        'and the progress on stderr. Exit code 1 when any scenario fails.',
    )
    .addArgument(completes(new Argument('[scenario...]', 'scenario ids of the catalog'), { scenarios: true }))
    .option('--all', 'every scenario of the catalog')
    .addOption(
      completes(
        new Option('--k8s <release>', "a release the scenarios declare, or all of them (default: each one's newest)"),
        {
          words: [...KUBERNETES_RELEASES.map((r) => r.minor), 'all'],
        },
      ),
    )
    .addOption(
      new Option('--size <profile>', "the labs' VM size profile (default: medium, as a pool's)").choices(
        Object.keys(SIZE_PROFILES),
      ),
    )
    .addOption(
      new Option(
        '--nodes <kind>',
        "in the sandbox: `vm` (QEMU guests, as learners get), `container` (container nodes of the same image on the host's kernel, many times faster) or `auto` (container nodes, VMs for scenarios with nodes: vm)",
      )
        .choices(['vm', 'container', 'auto'])
        .default('vm'),
    )
    .addOption(jsonOption())
    .option('--keep', 'keep the labs instead of tearing them down')
    .addOption(catalogOption())
    .option('--sandbox <file>', "the sandbox's description (default: .breakfix/sandbox.json)")
    .option('--kubeconfig <file>', 'test against a real cluster (or BREAKFIX_KUBECONFIG)')
    .option('--redis-url <url>', 'with --kubeconfig: Redis for lab records (or BREAKFIX_REDIS_URL)')
    .option('--platform <file>', 'with --kubeconfig: the platform config (or BREAKFIX_PLATFORM_CONFIG)')
    .option('--operator-key <file>', "with --kubeconfig: the operator's private key (or BREAKFIX_OPERATOR_KEY)")
    .action((ids: string[], options: TestOptions) => test(ids, options));
  return examples(command, [
    'labctl scenario test sim-kubeconfig-drift',
    'labctl scenario test kubelet-stopped kubelet-crashloop --k8s all',
    'labctl scenario test --all --json > results.jsonl',
    'labctl scenario test --all --k8s all --nodes auto --json > matrix.jsonl',
    'labctl scenario test kubelet-stopped --kubeconfig host.kubeconfig --redis-url redis://10.0.0.5:6379 \\\n' +
      '      --platform platform.yaml --operator-key operator_ed25519',
  ]);
}

async function test(positionals: string[], values: TestOptions): Promise<void> {
  const catalog = loadCatalog(values.catalog ?? DEFAULT_CATALOG_DIR);
  if (positionals.length === 0 && !values.all)
    throw new InvalidInputError('test needs scenario ids or --all (see `labctl scenario list`)');
  if (positionals.length > 0 && values.all) throw new InvalidInputError('give scenario ids or --all, not both');
  const scenarios = values.all
    ? [...catalog.values()]
    : positionals.map((id) => {
        const found = catalog.get(id);
        if (found === undefined)
          throw new NotFoundError(`no scenario "${id}" in the catalog`, { hint: 'see `labctl scenario list`' });
        return found;
      });
  // loaded here: the Kubernetes, Redis and QEMU adapters take seconds to load, and only test needs them
  const { resolveTarget, testScenarios, ScenarioTestInterrupted } = await import('./scenario-test.js');
  const print = values.json ? (line: string) => process.stderr.write(`${line}\n`) : write;
  // A status line on a terminal says which phase runs and for how long; the lines stay as they are.
  const status = createProgress({ json: values.json });
  const progress = (line: string) => status.line(line, print);
  // Ctrl-C or SIGTERM (a CI timeout) tears down the labs this run booted before labctl exits; a
  // second one kills it at once.
  const interrupt = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled = signal;
    progress(`${signal}: stopping, and tearing down the lab(s) this run booted (again to quit at once)`);
    interrupt.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const runs = await testScenarios(scenarios, resolveTarget(values), {
    k8s: values.k8s,
    size: values.size,
    nodes: values.nodes,
    keep: values.keep,
    out: progress,
    status: (label) => status.status(label),
    onRun: (run) => {
      if (values.json) status.line(JSON.stringify(run), write);
    },
    signal: interrupt.signal,
  })
    .catch((error: unknown) => {
      if (!(error instanceof ScenarioTestInterrupted)) throw error;
      status.stop();
      // What was still running (a boot, a script over SSH) would keep the process alive.
      process.exit(signalled === 'SIGINT' ? 130 : 143);
    })
    .finally(() => {
      status.stop();
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
  const failed = runs.filter((run) => !run.ok);
  if (runs.length > 1)
    progress(
      `${runs.length - failed.length} passed, ${failed.length} failed${failed.length > 0 ? `: ${failed.map((r) => `${r.scenario}@${r.version}`).join(', ')}` : ''}`,
    );
  if (failed.length > 0) process.exitCode = 1;
}

function newCommand(): Command {
  const command = new Command('new')
    .summary('scaffold a scenario that already passes lint and test')
    .description('Scaffold a scenario that already passes lint and test; edit from there.')
    .argument('<id>', 'the new scenario id, e.g. kubelet-flapping')
    .option('--simulator', "one for the sandbox's simulated nodes")
    .addOption(catalogOption())
    .action((id: string, options: { simulator?: boolean; catalog?: string }) => scaffold(id, options));
  return examples(command, ['labctl scenario new kubelet-flapping', 'labctl scenario new my-drill --simulator']);
}

async function scaffold(id: string, values: { simulator?: boolean; catalog?: string }): Promise<void> {
  const dir = scaffoldScenario(values.catalog ?? DEFAULT_CATALOG_DIR, id, { simulator: values.simulator });
  write(`created ${dir}: scenario.yaml, break.sh, check.sh, solve.sh`);
  write(`next: labctl scenario lint ${dir}`);
}

const IMPORTERS = { killercoda: importKillercoda, instruqt: importInstruqt };

function importCommand(): Command {
  const command = new Command('import')
    .summary('convert a Killercoda scenario or an Instruqt track')
    .description('Convert a Killercoda scenario or an Instruqt track into a breakfix scenario folder.')
    .addArgument(new Argument('<format>', 'where it comes from').choices(Object.keys(IMPORTERS)))
    .addArgument(completes(new Argument('<source>', 'the scenario or track folder'), { files: 'dirs' }))
    .requiredOption('--out <dir>', 'the scenario folder to write')
    .option('--id <id>', 'the scenario id (default: from the source)')
    .action((format: keyof typeof IMPORTERS, source: string, options: { out: string; id?: string }) =>
      importScenario(format, source, options),
    );
  return examples(command, [
    'labctl scenario import killercoda path/to/scenario --out scenarios/kubelet-down',
    'labctl scenario import instruqt path/to/track --out scenarios/worker-notready',
  ]);
}

async function importScenario(
  format: keyof typeof IMPORTERS,
  source: string,
  values: { out: string; id?: string },
): Promise<void> {
  const importer = IMPORTERS[format];
  const result = importer(source, values.out, values.id === undefined ? {} : { id: values.id });
  for (const warning of result.warnings) process.stderr.write(`labctl: warning: ${warning}\n`);
  write(`imported ${resolve(source)} into ${result.dir}`);
  write(`next: labctl scenario lint ${result.dir}`);
}

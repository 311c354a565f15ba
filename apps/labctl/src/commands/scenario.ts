import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidInputError, NotFoundError } from '@breakfix/core';
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
import { resolveTarget, testScenarios } from './scenario-test.js';

export const SCENARIO_USAGE = `  labctl scenario list [--json] [--catalog DIR]
      The scenarios of the catalog (default: the repository's scenarios/ folder).
  labctl scenario lint <dir|all> [--catalog DIR]
      Schema, referenced files, shellcheck, versions, topology, decoys and the script rules (functions
      defined nowhere, check kubectl without --request-timeout, node names no lab has); each problem
      names its file and field or line.
  labctl scenario test <id...|--all> [--k8s 1.36|all] [--json] [--keep] [--catalog DIR] [--sandbox FILE]
  labctl scenario test <id...|--all> --kubeconfig FILE --redis-url URL --platform platform.yaml --operator-key KEY
      Provision a lab, break it, expect check to fail with feedback, apply each decoy and expect check
      to keep failing, solve, expect check to pass. Without --kubeconfig it uses the sandbox of
      \`npm run sandbox\` (.breakfix/sandbox.json): simulator-only scenarios get simulated nodes,
      every other scenario real guests booted under QEMU from the golden image (minutes per lab).
      Scenarios of one release and shape share a lab while each leaves it solved and every node
      Ready. --k8s all tests every release a scenario declares; --json prints one line per
      scenario and release ({"scenario","version","ok","seconds":{phase:s},...}) and the progress on
      stderr. Exit code 1 when any scenario fails.
  labctl scenario new <id> [--simulator] [--catalog DIR]
      Scaffold a scenario that already passes lint and test; edit from there.
  labctl scenario import killercoda|instruqt <dir> --out <dir>
      Convert a Killercoda scenario or an Instruqt track into a breakfix scenario folder.
`;

const write = (line: string) => process.stdout.write(`${line}\n`);

export async function scenario(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'list':
      return list(rest);
    case 'lint':
      return lint(rest);
    case 'test':
      return test(rest);
    case 'new':
      return scaffold(rest);
    case 'import':
      return importCommand(rest);
    default:
      throw new InvalidInputError(
        sub === undefined ? 'scenario needs a subcommand' : `unknown scenario subcommand "${sub}"`,
        {
          hint: `one of list, lint, test, new, import:\n${SCENARIO_USAGE}`,
        },
      );
  }
}

async function list(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { json: { type: 'boolean', default: false }, catalog: { type: 'string' } },
  });
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

async function lint(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, options: { catalog: { type: 'string' } }, allowPositionals: true });
  const [what] = positionals;
  if (what === undefined) throw new InvalidInputError('lint needs a scenario folder or "all"');
  const catalogDir = values.catalog ?? DEFAULT_CATALOG_DIR;
  const problems: Problem[] = what === 'all' ? await lintCatalog(catalogDir) : await lintScenario(resolve(what));
  for (const problem of problems) write(formatProblem(problem));
  if (problems.length > 0) {
    process.stderr.write(`labctl: ${problems.length} problem(s)\n`);
    process.exitCode = 1;
    return;
  }
  write(what === 'all' ? `${loadCatalog(catalogDir).size} scenarios, no problems` : `${what}: no problems`);
}

async function test(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      catalog: { type: 'string' },
      sandbox: { type: 'string' },
      kubeconfig: { type: 'string' },
      'redis-url': { type: 'string' },
      platform: { type: 'string' },
      'operator-key': { type: 'string' },
      k8s: { type: 'string' },
      keep: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
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
  const progress = values.json ? (line: string) => process.stderr.write(`${line}\n`) : write;
  const runs = await testScenarios(scenarios, resolveTarget(values), {
    k8s: values.k8s,
    keep: values.keep,
    out: progress,
    onRun: (run) => {
      if (values.json) write(JSON.stringify(run));
    },
  });
  const failed = runs.filter((run) => !run.ok);
  if (runs.length > 1)
    progress(
      `${runs.length - failed.length} passed, ${failed.length} failed${failed.length > 0 ? `: ${failed.map((r) => `${r.scenario}@${r.version}`).join(', ')}` : ''}`,
    );
  if (failed.length > 0) process.exitCode = 1;
}

async function scaffold(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { catalog: { type: 'string' }, simulator: { type: 'boolean', default: false } },
    allowPositionals: true,
  });
  const [id] = positionals;
  if (id === undefined)
    throw new InvalidInputError('new needs a scenario id, e.g. `labctl scenario new kubelet-stopped`');
  const dir = scaffoldScenario(values.catalog ?? DEFAULT_CATALOG_DIR, id, { simulator: values.simulator });
  write(`created ${dir}: scenario.yaml, break.sh, check.sh, solve.sh`);
  write(`next: labctl scenario lint ${dir}`);
}

async function importCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { out: { type: 'string' }, id: { type: 'string' } },
    allowPositionals: true,
  });
  const [format, source] = positionals;
  if (source === undefined || values.out === undefined)
    throw new InvalidInputError('usage: labctl scenario import killercoda|instruqt <dir> --out <dir>');
  const importer = { killercoda: importKillercoda, instruqt: importInstruqt }[format ?? ''];
  if (importer === undefined)
    throw new InvalidInputError(`unknown import format "${format}"; known: killercoda, instruqt`);
  const result = importer(source, values.out, values.id === undefined ? {} : { id: values.id });
  for (const warning of result.warnings) process.stderr.write(`labctl: warning: ${warning}\n`);
  write(`imported ${resolve(source)} into ${result.dir}`);
  write(`next: labctl scenario lint ${result.dir}`);
}

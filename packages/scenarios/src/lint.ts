import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { UnsupportedEnvironmentError } from '@breakfix/core';
import { inspectScenario, type Problem, scenarioDirs } from './load.js';
import { SCENARIO_FILE, type Scenario, type ScenarioScript } from './schema.js';
import { scriptRuleProblems } from './script-rules.js';

export interface LintOptions {
  /** The shellcheck binary. Default `shellcheck` on PATH (scripts/ensure-deps.sh installs it). */
  shellcheck?: string;
  /** The shfmt binary, whose parser the script rules read. Default `shfmt` on PATH (scripts/ensure-deps.sh). */
  shfmt?: string;
}

/**
 * Everything loadScenario checks (schema, referenced files, versions, topology) plus what only an
 * author's machine can: shellcheck on every script, a shebang the node can run, shell dialect
 * sanity for simulator scenarios (busybox has no bash), and the rules of script-rules.ts (functions
 * defined nowhere, check kubectl without a request timeout, node names no lab has).
 */
export async function lintScenario(dir: string, options: LintOptions = {}): Promise<Problem[]> {
  const { scenario, problems } = inspectScenario(dir);
  if (scenario === undefined) return problems;
  const scripts = uniqueScripts(scenario);
  problems.push(...decoyProblems(scenario));
  for (const script of scripts)
    problems.push(...shebangProblems(scenario, script), ...sharedNodeProblems(scenario, script));
  problems.push(
    ...(await scriptRuleProblems(scenario, scripts, options.shfmt === undefined ? {} : { shfmt: options.shfmt })),
  );
  problems.push(...(await shellcheck(scripts, options.shellcheck ?? 'shellcheck')));
  return problems;
}

/** Lints every scenario folder under `rootDir` (ids equal folder names, so they are unique). */
export async function lintCatalog(rootDir: string, options: LintOptions = {}): Promise<Problem[]> {
  const problems: Problem[] = [];
  for (const dir of scenarioDirs(rootDir)) problems.push(...(await lintScenario(dir, options)));
  return problems;
}

function uniqueScripts(scenario: Scenario): ScenarioScript[] {
  const seen = new Map<string, ScenarioScript>();
  const { break: breaks, check, solve } = scenario.scripts;
  for (const script of [...breaks, ...check, ...solve, ...scenario.decoys])
    if (!seen.has(script.path)) seen.set(script.path, script);
  return [...seen.values()];
}

/**
 * A check that only looks at the one fix its author had in mind passes after plausible wrong
 * fixes too; decoys are how the self-test catches that. Simulator scenarios prove the loop, not
 * a lesson, and may go without.
 */
function decoyProblems(scenario: Scenario): Problem[] {
  if (scenario.simulator || scenario.decoys.length > 0) return [];
  return [
    {
      file: join(scenario.dir, SCENARIO_FILE),
      field: 'decoys',
      message:
        'needs at least one decoy: a script applying a plausible wrong fix (delete the broken pod, cordon the ' +
        'node, restart a service without fixing its config) that the check must not accept',
    },
  ];
}

function shebangProblems(scenario: Scenario, script: ScenarioScript): Problem[] {
  const first = script.content.split('\n', 1)[0] ?? '';
  if (!first.startsWith('#!')) {
    return [
      {
        file: script.path,
        field: 'line 1',
        message: 'has no shebang; start with #!/bin/bash (or #!/bin/sh) — the runner executes the file itself',
      },
    ];
  }
  if (scenario.simulator && !/^#!\s*\/bin\/sh\b/.test(first)) {
    return [
      {
        file: script.path,
        field: 'line 1',
        message: 'a simulator scenario runs in a busybox guest: use #!/bin/sh, there is no bash there',
      },
    ];
  }
  return [];
}

/**
 * What needs a node's own kernel: swap, modules, kernel-wide sysctls (a network sysctl belongs to
 * the node's own network namespace), and NetworkPolicy, which kube-network-policies enforces
 * through the kernel's nftables queue (a host kernel may lack it; this machine kind's does). On a
 * container node, which shares the host's kernel (docs/adr/0037), the first would change the host
 * and the last may go unenforced: a scenario using them must say `nodes: vm`.
 */
const OWN_NODE_COMMANDS: { pattern: RegExp; what: string }[] = [
  { pattern: /(^|[\s;&|(])(swapon|swapoff|mkswap)\b/, what: "swap is the node's kernel's" },
  { pattern: /(^|[\s;&|(])(modprobe|insmod|rmmod)\b/, what: "modules are the node's kernel's" },
  {
    pattern: /\bkind:\s*NetworkPolicy\b/,
    what: "NetworkPolicy is enforced by the node's kernel (an nftables queue)",
  },
  {
    pattern: /(^|[\s;&|(])sysctl\s+(-\w+\s+)*(?!net\.)[a-z]+\.[\w.]+=/,
    what: 'a sysctl outside net.* is kernel-wide',
  },
  { pattern: />\s*\/proc\/sys\/(?!net\/)/, what: 'a sysctl outside net.* is kernel-wide' },
];

function sharedNodeProblems(scenario: Scenario, script: ScenarioScript): Problem[] {
  if (scenario.simulator || scenario.nodes === 'vm') return [];
  const problems: Problem[] = [];
  script.content.split('\n').forEach((line, index) => {
    const code = line.replace(/(^|\s)#.*$/, '');
    const found = OWN_NODE_COMMANDS.find(({ pattern }) => pattern.test(code));
    if (found === undefined) return;
    problems.push({
      file: script.path,
      field: `line ${index + 1}`,
      message: `${found.what}, and a container node shares the host's: declare \`nodes: vm\` in ${SCENARIO_FILE} (docs/adr/0037)`,
    });
  });
  return problems;
}

interface ShellcheckComment {
  file: string;
  line: number;
  level: string;
  code: number;
  message: string;
}

async function shellcheck(scripts: ScenarioScript[], binary: string): Promise<Problem[]> {
  if (scripts.length === 0) return [];
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      binary,
      ['--format=json1', '--severity=style', ...scripts.map((s) => s.path)],
      { maxBuffer: 16 * 1024 * 1024 },
      (error, stdout) => {
        // shellcheck exits 1 when it found something; that is an answer, not a failure.
        const code = (error as { code?: unknown } | null)?.code;
        if (error !== null && code !== 1) {
          reject(
            code === 'ENOENT'
              ? new UnsupportedEnvironmentError(`${binary} is not installed`, {
                  hint: 'apt-get install shellcheck (scripts/ensure-deps.sh does it)',
                })
              : error,
          );
        } else resolve(stdout);
      },
    );
  });
  const { comments } = JSON.parse(output) as { comments: ShellcheckComment[] };
  return comments.map((c) => ({
    file: c.file,
    field: `line ${c.line}`,
    message: `SC${c.code} (${c.level}): ${c.message}`,
  }));
}

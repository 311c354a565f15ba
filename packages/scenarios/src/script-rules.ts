import { join } from 'node:path';
import { labNodes, parseLabSpec } from '@breakfix/manifests';
import type { Problem } from './load.js';
import { NODE_COMMANDS, SHELL_BUILTINS } from './node-commands.js';
import { SCENARIO_FILE, type Scenario, type ScenarioScript } from './schema.js';
import { type ParseOptions, parseShell, type ShellCall, type ShellScript, unwrap } from './shell-syntax.js';

/**
 * What shellcheck cannot see in a scenario, because it needs to know how breakfix runs scripts:
 * calls of functions defined nowhere, check scripts whose kubectl could hang, pipe readers that
 * fail a pipefail pipeline, waits of a fixed length instead of the script's deadline, and node
 * names no lab of the scenario has. Each problem names the file and line.
 */
export async function scriptRuleProblems(
  scenario: Scenario,
  scripts: ScenarioScript[],
  options: ParseOptions = {},
): Promise<Problem[]> {
  const nodes = labNodes(parseLabSpec({ labId: 'lint', workers: scenario.topology.workers })).map((n) => n.name);
  const checks = new Set(scenario.scripts.check.map((s) => s.path));
  const problems: Problem[] = [...proseNodeProblems(scenario, nodes)];
  for (const script of scripts) {
    const parsed = await parseShell(script.content, options);
    if (parsed === undefined) continue;
    const at = (line: number, message: string): Problem => ({ file: script.path, field: `line ${line}`, message });
    problems.push(...undefinedCommands(parsed).map((c) => at(c.line, undefinedMessage(c.name ?? ''))));
    if (checks.has(script.path))
      for (const call of kubectlWithoutTimeout(parsed))
        problems.push(
          at(
            call.line,
            'kubectl without --request-timeout: a hung API server would hold this check until the runner kills it, ' +
              'and the learner would get no feedback; add --request-timeout=5s',
          ),
        );
    for (const reader of earlyExitReaders(parsed)) problems.push(at(reader.line, earlyExitMessage(reader.name ?? '')));
    if (!checks.has(script.path))
      for (const wait of fixedWaits(script.content, parsed)) problems.push(at(wait.line, fixedWaitMessage(wait.what)));
    for (const found of nodeNamesIn(script.content, parsed))
      if (!nodes.includes(found.name)) problems.push(at(found.line, unknownNodeMessage(found.name, nodes)));
  }
  return problems.sort((a, b) => a.file.localeCompare(b.file) || lineOf(a) - lineOf(b));
}

function undefinedMessage(name: string): string {
  return (
    `calls ${name}, which is neither a function defined in this script nor a command of the node image: ` +
    'the runner uploads each script alone and sources no helpers, so define it here ' +
    '(or, if the image has this program, add it to packages/scenarios/src/node-commands.ts)'
  );
}

function earlyExitMessage(name: string): string {
  const whole = name === 'head' ? 'sed -n 1p instead of head -n 1' : 'grep -q PATTERN <<<"$(cmd)"';
  return (
    `${name} reads a pipe and may stop before its input ends: under set -o pipefail the command before it ` +
    'can die of SIGPIPE (exit 141) and fail the pipeline although the output was there; ' +
    `read the whole output instead (${whole})`
  );
}

/**
 * Commands reading a pipe that stop before their input ends (`grep -q`, `grep -m`, `head`) in a
 * script that sets pipefail, including inside `bash -c` strings that set it themselves.
 */
function earlyExitReaders(script: ShellScript): ShellCall[] {
  const found = script.pipefail
    ? script.pipeReaders.map(unwrap).filter((run): run is ShellCall => run !== undefined && stopsEarly(run))
    : [];
  for (const nested of script.nested) found.push(...earlyExitReaders(nested));
  return found;
}

/** grep's options that take the next word (`-e PATTERN`): it is not an option cluster to read. */
const GREP_VALUED = new Set(['e', 'f', 'A', 'B', 'C', 'd', 'D']);

function stopsEarly(run: ShellCall): boolean {
  if (run.name === 'head') return true;
  if (run.name !== 'grep' && run.name !== 'egrep' && run.name !== 'fgrep') return false;
  for (let i = 0; i < run.args.length; i++) {
    const arg = run.args[i];
    if (arg === undefined || arg === '--') break;
    if (/^--(quiet|silent|max-count)(=|$)/.test(arg)) return true;
    if (/^--(regexp|file|after-context|before-context|context|devices|directories)$/.test(arg)) i++;
    if (!/^-[^-]/.test(arg)) continue;
    for (const flag of arg.slice(1)) {
      if (flag === 'q' || flag === 'm') return true;
      if (GREP_VALUED.has(flag)) {
        if (arg.endsWith(flag)) i++;
        break;
      }
    }
  }
  return false;
}

function fixedWaitMessage(what: string): string {
  return (
    `waits a fixed time (${what}): the runner gives this script a deadline, 2 or 3 minutes on a learner's lab ` +
    'and several times that on an emulated one, and a fixed wait is either cut off by it or runs out first on ' +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: bash, not a template
    'a slow lab; take the time from it: deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10)), then ' +
    '--timeout="$(left)" or ((SECONDS < deadline)) (instructor guide, "Waits")'
  );
}

interface FixedWait {
  what: string;
  line: number;
}

/**
 * Literal `SECONDS + 100` or `SECONDS < 100` in arithmetic: a deadline counted from a number (not
 * `deadline - SECONDS > 1`, which asks what is left of one).
 */
const SECONDS_LITERAL = /(?<!-\s*)\bSECONDS\s*(?:[<>]=?|\+)\s*\d+/;
const KUBECTL_WAITS = new Set(['wait', 'rollout', 'delete']);

/**
 * Waits bounded by a number written in the script (a break, decoy or solve: checks do not wait):
 * kubectl wait / rollout status / delete with a literal `--timeout`, `timeout N` around a shell
 * loop or a kubectl wait, and deadlines counted from a literal against bash's SECONDS.
 */
function fixedWaits(content: string, script: ShellScript): FixedWait[] {
  const found: FixedWait[] = [];
  content.split('\n').forEach((text, index) => {
    if (/^\s*#/.test(text)) return;
    const literal = SECONDS_LITERAL.exec(text);
    if (literal !== null) found.push({ what: literal[0], line: index + 1 });
  });
  const fromCalls = (s: ShellScript): void => {
    for (const call of s.calls) {
      const run = unwrap(call);
      if (call.name === 'timeout') {
        const seconds = call.args.find((arg) => arg === undefined || !arg.startsWith('-'));
        const inner = run?.name;
        if (seconds !== undefined && /^\d+(\.\d+)?[smh]?$/.test(seconds) && (inner === 'bash' || inner === 'sh'))
          found.push({ what: `timeout ${seconds} ${inner} -c`, line: call.line });
      }
      if (run?.name !== 'kubectl' || !run.args.some((arg) => arg !== undefined && KUBECTL_WAITS.has(arg))) continue;
      run.args.forEach((arg, i) => {
        const value = arg === '--timeout' ? run.args[i + 1] : arg?.startsWith('--timeout=') ? arg.slice(10) : undefined;
        if (value !== undefined && /^\d/.test(value))
          found.push({ what: `kubectl --timeout=${value}`, line: run.line });
      });
    }
    s.nested.forEach(fromCalls);
  };
  fromCalls(script);
  return found.filter((f, i) => found.findIndex((g) => g.line === f.line) === i);
}

function unknownNodeMessage(name: string, nodes: string[]): string {
  return `names node ${name}, but this scenario's labs have only ${nodes.join(', ')} (topology.workers: ${nodes.length - 1})`;
}

/** Simple commands that name neither a builtin, a node command nor a function of their own shell. */
function undefinedCommands(script: ShellScript): ShellCall[] {
  const found: ShellCall[] = [];
  for (const call of script.calls) {
    for (const run of [call, unwrap(call)]) {
      const name = run?.name;
      if (run === undefined || name === undefined || name === '' || name.includes('/')) continue;
      if (SHELL_BUILTINS.has(name) || NODE_COMMANDS.has(name) || script.functions.has(name)) continue;
      if (!found.some((f) => f.line === run.line && f.name === name)) found.push(run);
    }
  }
  for (const nested of script.nested) found.push(...undefinedCommands(nested));
  return found;
}

/**
 * kubectl runs (direct or through a wrapper) with no --request-timeout. A script may define its
 * own `kubectl` function that adds the flag: calls after its definition go to it (and its body's
 * `command kubectl` is checked like any other), calls before it still run the real kubectl.
 */
function kubectlWithoutTimeout(script: ShellScript, shadowedFrom = script.functions.get('kubectl')): ShellCall[] {
  const found: ShellCall[] = [];
  for (const call of script.calls) {
    const run = unwrap(call);
    if (run?.name !== 'kubectl') continue;
    if (shadowedFrom !== undefined && call.name === 'kubectl' && call.line > shadowedFrom) continue;
    if (!run.args.some((arg) => arg !== undefined && /^--request-timeout(=|$)/.test(arg))) found.push(run);
  }
  for (const nested of script.nested) found.push(...kubectlWithoutTimeout(nested));
  return found;
}

/** Lab node names look like this; anything else in a node position is a name from another platform. */
const LAB_NODE_SHAPE = /(?<![\w./-])(w\d+)(?![\w-])/g;
const STATIC_POD = /^(?:kube-apiserver|kube-controller-manager|kube-scheduler|etcd)-(.+)$/;
/** Node names in text: label selectors, YAML and field selectors (`kubernetes.io/hostname: w1`, `spec.nodeName=w1`). */
const NODE_FIELDS = /(?:kubernetes\.io\/hostname|nodeName)["']?\s*[:=]\s*["']?([A-Za-z0-9][\w.-]*)/g;

interface NodeName {
  name: string;
  line: number;
}

/**
 * Literal node names in a script: any word shaped like a lab node (`w2`) outside comments, the
 * node in `kubernetes.io/hostname` and `nodeName` selectors, and what kubectl and ssh address as a
 * node (`kubectl get node X`, `node/X`, `cordon X`, static pod `kube-scheduler-X`, `ssh X`).
 */
function nodeNamesIn(content: string, script: ShellScript): NodeName[] {
  const found: NodeName[] = [];
  content.split('\n').forEach((text, index) => {
    if (/^\s*#/.test(text)) return;
    for (const pattern of [LAB_NODE_SHAPE, NODE_FIELDS])
      for (const match of text.matchAll(pattern))
        if (match[1] !== undefined) found.push({ name: match[1], line: index + 1 });
  });
  const fromCalls = (s: ShellScript): void => {
    for (const call of s.calls) {
      const run = unwrap(call);
      if (run?.name === 'kubectl') for (const name of kubectlNodes(run.args)) found.push({ name, line: run.line });
      if (run?.name === 'ssh') {
        const host = run.args.find(
          (arg, i) => arg !== undefined && !arg.startsWith('-') && !sshValued(run.args[i - 1]),
        );
        if (host !== undefined) found.push({ name: host.replace(/^.*@/, ''), line: run.line });
      }
    }
    s.nested.forEach(fromCalls);
  };
  fromCalls(script);
  return found.filter((f, i) => found.findIndex((g) => g.name === f.name && g.line === f.line) === i);
}

const sshValued = (arg: string | undefined) => arg !== undefined && /^-[bcDEeFIiJLlmOopQRSWw]$/.test(arg);

/** kubectl options that take the next word as their value (the `--flag=value` form needs no entry). */
const KUBECTL_VALUED = new Set(
  (
    '-n --namespace -o --output -l --selector --kubeconfig --context --cluster --user -f --filename ' +
    '--field-selector --request-timeout -c --container -p --patch --type --for --timeout -s --server --as ' +
    '-L --label-columns --sort-by --template -k --kustomize --replicas --image --from-literal --overrides'
  ).split(' '),
);
const NODE_RESOURCES = new Set(['node', 'nodes', 'no']);
const POD_RESOURCES = new Set(['pod', 'pods', 'po']);

/** The node names a kubectl command line addresses literally. */
function kubectlNodes(args: (string | undefined)[]): string[] {
  const words: (string | undefined)[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg?.startsWith('-')) {
      if (KUBECTL_VALUED.has(arg)) i++;
      continue;
    }
    words.push(arg);
  }
  const [verb, resource, ...rest] = words;
  const names: (string | undefined)[] = [];
  const literalNames = (list: (string | undefined)[]) => list.filter((w) => w !== undefined && !/[=:]|-$/.test(w));
  if (verb === 'cordon' || verb === 'uncordon' || verb === 'drain') names.push(resource);
  else if (verb === 'logs' || verb === 'exec' || verb === 'attach')
    names.push(staticPodNode(resource?.replace(/^pods?\//, '')));
  else if (resource !== undefined && NODE_RESOURCES.has(resource))
    names.push(
      ...(verb === 'taint' || verb === 'label' || verb === 'annotate'
        ? literalNames(rest.slice(0, 1))
        : literalNames(rest)),
    );
  else if (resource !== undefined && POD_RESOURCES.has(resource)) names.push(...rest.map(staticPodNode));
  for (const word of words) {
    const slash = word === undefined ? undefined : /^(nodes?|no|pods?|po)\/(.+)$/.exec(word);
    if (slash?.[2] !== undefined) names.push(NODE_RESOURCES.has(slash[1] ?? '') ? slash[2] : staticPodNode(slash[2]));
  }
  return names.filter((n): n is string => n !== undefined && n !== '');
}

function staticPodNode(pod: string | undefined): string | undefined {
  return pod === undefined ? undefined : STATIC_POD.exec(pod)?.[1];
}

/** The brief and hints talk to learners: a worker the lab does not have would send them looking for it. */
function proseNodeProblems(scenario: Scenario, nodes: string[]): Problem[] {
  const file = join(scenario.dir, SCENARIO_FILE);
  const texts: [string, string][] = [
    ['brief', scenario.brief],
    ...scenario.hints.map((h, i): [string, string] => [`hints.${i}`, h]),
  ];
  const problems: Problem[] = [];
  for (const [field, text] of texts)
    for (const match of new Set([...text.matchAll(LAB_NODE_SHAPE)].map((m) => m[1] ?? '')))
      if (!nodes.includes(match)) problems.push({ file, field, message: unknownNodeMessage(match, nodes) });
  return problems;
}

function lineOf(problem: Problem): number {
  return Number(/^line (\d+)$/.exec(problem.field ?? '')?.[1] ?? 0);
}

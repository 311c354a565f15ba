import { DeadlineExceededError, InvalidInputError, UpstreamError } from '@breakfix/core';
import {
  CommandTimeoutError,
  type ExecResult,
  HostKeyMismatchError,
  type SshRunner,
  type SshTarget,
} from '@breakfix/ssh';
import { LabNeedsAttentionError, ScenarioScriptError, ScenarioScriptTimeoutError, type ScriptRef } from './errors.js';
import type { Scenario, ScenarioScript, ScriptPurpose } from './schema.js';

/** A claimed lab as the runner needs it: its id and an SSH target per node (`cp`, `w1`, ...). */
export interface LabTargets {
  labId: string;
  nodes: Record<string, SshTarget>;
}

export interface ScenarioRunnerOptions {
  ssh: SshRunner;
  /** Deadline per break script. Default 120 s (a break may restart kubelet and wait for it). */
  breakTimeoutMs?: number;
  /** Deadline per check script. Default 30 s: a learner is waiting for the answer. */
  checkTimeoutMs?: number;
  /** Deadline per solve script. Default 180 s. */
  solveTimeoutMs?: number;
  /** Deadline per decoy script. Default 120 s, like a break: a decoy may restart a service and wait. */
  decoyTimeoutMs?: number;
  /** Output kept per stream of one script; the rest is dropped. Default 64 KiB. */
  maxOutputBytes?: number;
  /**
   * Where a node remembers which break scripts already ran (`<stateDir>/<scenario>/break-<n>`),
   * so a retried claim does not break twice. Default `/var/lib/breakfix/scenarios` (root-owned);
   * the sandbox's guests have no root, so tests pass a folder under /tmp.
   */
  stateDir?: string;
}

/** One script on one node. */
export interface StepResult {
  phase: ScriptPurpose;
  node: string;
  file: string;
  /** Exit code; undefined when the break step was skipped because it had already run. */
  code: number | undefined;
  stdout: string;
  stderr: string;
  truncated: boolean;
  durationMs: number;
  skipped: boolean;
}

export interface CheckResult {
  solved: boolean;
  /** What is still wrong, one line each, in the words of the check scripts. */
  feedback: string[];
  steps: StepResult[];
}

/** Lines of feedback kept per check, and characters per line: a Slack message, not a log. */
export const MAX_FEEDBACK_LINES = 20;
export const MAX_FEEDBACK_LINE_CHARS = 400;

const CONTROL_PLANE = 'cp';
/** The HTTP status of kubeadm's API server on the control plane, "000" when it does not answer. */
const API_SERVER_PROBE = "curl -sk --max-time 5 -o /dev/null -w '%{http_code}' https://127.0.0.1:6443/readyz || true";

export type ScenarioRunner = ReturnType<typeof createScenarioRunner>;

/**
 * Runs a scenario's scripts on a lab's nodes over the SSH runner: each script is uploaded into a
 * fresh root-only temp folder and executed through sudo in the same command (one connection),
 * with a deadline, an output cap and the lab's names in its environment:
 * BREAKFIX_LAB_ID, BREAKFIX_SCENARIO, BREAKFIX_NODE, BREAKFIX_NODES, BREAKFIX_CONTROL_PLANE, BREAKFIX_WORKERS.
 */
export function createScenarioRunner(options: ScenarioRunnerOptions) {
  const { ssh } = options;
  const cap = options.maxOutputBytes ?? 64 * 1024;
  const stateDir = options.stateDir ?? '/var/lib/breakfix/scenarios';
  const deadlines: Record<ScriptPurpose, number> = {
    break: options.breakTimeoutMs ?? 120_000,
    check: options.checkTimeoutMs ?? 30_000,
    solve: options.solveTimeoutMs ?? 180_000,
    decoy: options.decoyTimeoutMs ?? 120_000,
  };

  /** Runs `command` on a node, turning transport failures into LabNeedsAttentionError. */
  async function onNode(
    lab: LabTargets,
    node: string,
    command: string,
    exec: { timeoutMs: number; stdin?: string; env?: Record<string, string>; idempotent?: boolean },
  ): Promise<ExecResult> {
    const target = lab.nodes[node];
    if (target === undefined) throw new InvalidInputError(`lab ${lab.labId} has no node ${node}`);
    let result: ExecResult;
    try {
      result = await ssh.exec(target, command, { ...exec, sudo: true, maxOutputBytes: cap });
    } catch (error) {
      if (error instanceof CommandTimeoutError) throw error;
      if (error instanceof HostKeyMismatchError)
        throw new LabNeedsAttentionError(lab.labId, node, `host key mismatch: ${error.message}`, { cause: error });
      if (error instanceof UpstreamError || error instanceof DeadlineExceededError)
        throw new LabNeedsAttentionError(lab.labId, node, `SSH failed: ${error.message}`, { cause: error });
      throw error;
    }
    // A channel that closes with neither an exit status nor a signal: the connection went away.
    if (result.code === null && result.signal === undefined)
      throw new LabNeedsAttentionError(lab.labId, node, 'the SSH connection dropped before the script finished');
    return result;
  }

  /**
   * Whether the lab's API server answered while a check failed. A check reads most of what it says
   * through kubectl; when the API server is down or still settling after a static pod restarted,
   * "not ready" or "0 of 2 available" may only mean that, and the learner deserves to know. Any
   * HTTP answer but a 5xx counts as answering (anonymous requests may be refused).
   */
  async function apiServerNote(lab: LabTargets): Promise<string | undefined> {
    if (lab.nodes[CONTROL_PLANE] === undefined) return undefined;
    const probe = await onNode(lab, CONTROL_PLANE, API_SERVER_PROBE, { timeoutMs: 20_000, idempotent: true });
    const status = probe.stdout.trim();
    if (status === '000' || status === '')
      return "The lab's API server did not answer within 5 s while the check ran, so lines that come from kubectl may only mean that. After a control-plane component restarts it can take a minute or two to settle: check again.";
    if (/^5\d\d$/.test(status))
      return `The lab's API server answered /readyz with HTTP ${status} (not ready) while the check ran, so lines that come from kubectl may only mean that. After a control-plane component restarts it can take a minute or two to settle: check again.`;
    return undefined;
  }

  async function runScript(
    scenario: Scenario,
    lab: LabTargets,
    script: ScenarioScript,
    node: string,
  ): Promise<StepResult> {
    const ref: ScriptRef = { scenario: scenario.id, phase: script.phase, node, file: script.file };
    const timeoutMs = deadlines[script.phase];
    try {
      const result = await onNode(lab, node, EXECUTE_UPLOADED, {
        timeoutMs,
        stdin: script.content,
        env: environment(scenario, lab, node, timeoutMs),
      });
      return {
        phase: script.phase,
        node,
        file: script.file,
        code: result.code ?? undefined,
        stdout: result.stdout,
        stderr: result.stderr,
        truncated: result.truncated,
        durationMs: result.durationMs,
        skipped: false,
      };
    } catch (error) {
      if (error instanceof CommandTimeoutError)
        throw new ScenarioScriptTimeoutError(ref, timeoutMs, error.partial, error);
      throw error;
    }
  }

  /**
   * One break script on one node in one SSH command: the optional `before` (a claim's setup),
   * then, unless its marker says it already ran (and `force` is off), the script, then the
   * marker. The wrapper reports what it did on the last line of stderr (BREAK_STATUS), which is
   * taken off before the script's own output is kept. Safe to run twice (markers), so the SSH
   * runner may run it again when its connection drops.
   */
  async function runBreak(
    scenario: Scenario,
    lab: LabTargets,
    script: ScenarioScript,
    node: string,
    index: number,
    opts: { force?: boolean | undefined; before?: string | undefined },
  ): Promise<StepResult> {
    const ref: ScriptRef = { scenario: scenario.id, phase: script.phase, node, file: script.file };
    const timeoutMs = deadlines[script.phase];
    const done = marker(scenario, index);
    const command = [
      `s() { printf '\\n${BREAK_STATUS} %s\\n' "$1" >&2; }`,
      ...(opts.before === undefined ? [] : [`{ ${opts.before}\n} || { s setup-failed; exit 1; }`]),
      ...(opts.force ? [] : [`if test -e ${done}; then s skipped; exit 0; fi`]),
      EXECUTE_UPLOADED_KEEP,
      `if [ "$rc" -ne 0 ]; then exit "$rc"; fi`,
      `mkdir -p ${stateDir}/${scenario.id} && date > ${done} || { s marker-failed; exit 1; }`,
      's ran',
    ].join('\n');
    let result: ExecResult;
    try {
      result = await onNode(lab, node, command, {
        timeoutMs,
        stdin: script.content,
        env: environment(scenario, lab, node, timeoutMs),
        idempotent: true,
      });
    } catch (error) {
      if (error instanceof CommandTimeoutError)
        throw new ScenarioScriptTimeoutError(ref, timeoutMs, error.partial, error);
      throw error;
    }
    const status = STATUS_LINE.exec(result.stderr);
    const stderr = status === null ? result.stderr : result.stderr.slice(0, status.index);
    switch (status?.[1]) {
      case 'setup-failed':
        throw new LabNeedsAttentionError(lab.labId, node, `setup before the break failed: ${stderr.trim()}`);
      case 'marker-failed':
        throw new LabNeedsAttentionError(lab.labId, node, `could not record the break in ${done}: ${stderr.trim()}`);
      default:
        break;
    }
    return {
      phase: script.phase,
      node,
      file: script.file,
      code: status?.[1] === 'skipped' ? undefined : (result.code ?? undefined),
      stdout: result.stdout,
      stderr,
      truncated: result.truncated,
      durationMs: result.durationMs,
      skipped: status?.[1] === 'skipped',
    };
  }

  function mustSucceed(scenario: Scenario, step: StepResult): StepResult {
    if (step.code !== 0)
      throw new ScenarioScriptError(
        { scenario: scenario.id, phase: step.phase, node: step.node, file: step.file },
        {
          code: step.code ?? null,
          stdout: step.stdout,
          stderr: step.stderr,
        },
      );
    return step;
  }

  const marker = (scenario: Scenario, index: number) => `${stateDir}/${scenario.id}/break-${index}`;

  return {
    /**
     * Breaks the lab. Idempotent: each break script records a marker on its node once it succeeded,
     * and a second call (a retried claim job) skips what already ran. `force` runs them all again.
     */
    async applyBreak(
      scenario: Scenario,
      lab: LabTargets,
      opts: {
        force?: boolean;
        /**
         * A shell command per node, run through sudo before that node's first break script, in
         * the same SSH command (a claim's key install); on nodes with no break script, alone. A
         * failure stops that node's breaks and throws LabNeedsAttentionError.
         */
        before?: Readonly<Record<string, string>>;
      } = {},
    ): Promise<StepResult[]> {
      const steps: StepResult[] = [];
      const pending = new Map(Object.entries(opts.before ?? {}));
      for (const [index, script] of scenario.scripts.break.entries()) {
        for (const node of nodesFor(script, lab)) {
          const before = pending.get(node);
          pending.delete(node);
          const step = await runBreak(scenario, lab, script, node, index, { ...opts, before });
          steps.push(step.skipped ? step : mustSucceed(scenario, step));
        }
      }
      for (const [node, before] of pending) {
        const result = await onNode(lab, node, before, { timeoutMs: 15_000, idempotent: true });
        if (result.code !== 0)
          throw new LabNeedsAttentionError(lab.labId, node, `setup before the break failed: ${result.stderr.trim()}`);
      }
      return steps;
    },

    /** Runs every check script. Solved when all exit 0; each stdout line is feedback for the learner. */
    async check(scenario: Scenario, lab: LabTargets): Promise<CheckResult> {
      const steps: StepResult[] = [];
      for (const script of scenario.scripts.check)
        for (const node of nodesFor(script, lab)) steps.push(await runScript(scenario, lab, script, node));
      const solved = steps.every((step) => step.code === 0);
      const feedback: string[] = [];
      for (const step of steps) {
        const lines = step.stdout
          .split('\n')
          .map((line) => line.trim())
          .filter((line) => line !== '');
        if (step.code !== 0 && lines.length === 0)
          lines.push(`Not solved yet (the check on ${step.node} found a problem but did not say which).`);
        if (step.truncated) lines.push('(more feedback was cut off)');
        feedback.push(...lines);
      }
      const kept = feedback
        .slice(0, MAX_FEEDBACK_LINES)
        .map((line) =>
          line.length > MAX_FEEDBACK_LINE_CHARS ? `${line.slice(0, MAX_FEEDBACK_LINE_CHARS - 1)}…` : line,
        );
      if (feedback.length > MAX_FEEDBACK_LINES) kept.push(`(${feedback.length - MAX_FEEDBACK_LINES} more lines)`);
      if (!solved && !scenario.simulator) {
        const note = await apiServerNote(lab);
        if (note !== undefined) kept.push(note);
      }
      return { solved, feedback: kept, steps };
    },

    /**
     * Applies one decoy (a plausible wrong fix) on its nodes. It must succeed: a decoy that cannot
     * even be applied proves nothing about the check. Leaves the break markers alone.
     */
    async applyDecoy(scenario: Scenario, decoy: ScenarioScript, lab: LabTargets): Promise<StepResult[]> {
      const steps: StepResult[] = [];
      for (const node of nodesFor(decoy, lab))
        steps.push(mustSucceed(scenario, await runScript(scenario, lab, decoy, node)));
      return steps;
    },

    /** Fixes the lab the way the scenario's author would, then forgets the break markers. */
    async solve(scenario: Scenario, lab: LabTargets): Promise<StepResult[]> {
      const steps: StepResult[] = [];
      for (const script of scenario.scripts.solve)
        for (const node of nodesFor(script, lab))
          steps.push(mustSucceed(scenario, await runScript(scenario, lab, script, node)));
      for (const node of Object.keys(lab.nodes))
        await onNode(lab, node, `rm -rf ${stateDir}/${scenario.id}`, { timeoutMs: 15_000 });
      return steps;
    },
  };
}

/**
 * The command every script runs as: read the script from stdin into a fresh 0700 folder (mktemp),
 * run it with stdin closed (so it cannot wait for input), remove the folder, keep its exit code.
 * Learners are root on their nodes anyway; the folder only keeps solve scripts out of plain sight.
 */
const EXECUTE_UPLOADED = [
  'd=$(mktemp -d /tmp/breakfix-script.XXXXXX) || exit 125',
  'trap \'rm -rf "$d"\' EXIT',
  'cat > "$d/script" && chmod 700 "$d/script" || exit 125',
  'cd / && "$d/script" </dev/null',
].join('\n');

/** EXECUTE_UPLOADED for the break wrapper: the script's exit code is left in `rc`. */
const EXECUTE_UPLOADED_KEEP = [
  'd=$(mktemp -d /tmp/breakfix-script.XXXXXX) || exit 125',
  'trap \'rm -rf "$d"\' EXIT',
  'cat > "$d/script" && chmod 700 "$d/script" || exit 125',
  '(cd / && "$d/script" </dev/null)',
  'rc=$?',
].join('\n');

/** What the break wrapper did, on the last line of its stderr: `ran`, `skipped`, `setup-failed`, `marker-failed`. */
const BREAK_STATUS = '@breakfix-break';
const STATUS_LINE = new RegExp(`\\n?${BREAK_STATUS} (\\S+)\\n$`);

/**
 * What a script sees of the lab, and its own deadline: BREAKFIX_TIMEOUT_SECONDS, so a script that
 * waits for the cluster can time its waits from what it was given (the runner gives an emulated lab
 * several times what a learner's lab gets) instead of a number that is too short on a slow lab.
 */
function environment(scenario: Scenario, lab: LabTargets, node: string, timeoutMs: number): Record<string, string> {
  const nodes = sortedNodes(lab);
  return {
    BREAKFIX_TIMEOUT_SECONDS: String(Math.floor(timeoutMs / 1000)),
    BREAKFIX_LAB_ID: lab.labId,
    BREAKFIX_SCENARIO: scenario.id,
    BREAKFIX_NODE: node,
    BREAKFIX_NODES: nodes.join(' '),
    BREAKFIX_CONTROL_PLANE: CONTROL_PLANE,
    BREAKFIX_WORKERS: nodes.filter((n) => n !== CONTROL_PLANE).join(' '),
  };
}

/** `cp` first, then workers in order. */
function sortedNodes(lab: LabTargets): string[] {
  return Object.keys(lab.nodes).sort((a, b) =>
    a === CONTROL_PLANE ? -1 : b === CONTROL_PLANE ? 1 : a.localeCompare(b, 'en', { numeric: true }),
  );
}

function nodesFor(script: ScenarioScript, lab: LabTargets): string[] {
  const nodes = sortedNodes(lab);
  switch (script.on) {
    case 'control-plane':
      return [CONTROL_PLANE];
    case 'workers':
      return nodes.filter((n) => n !== CONTROL_PLANE);
    case 'all':
      return nodes;
    default:
      return [script.on];
  }
}

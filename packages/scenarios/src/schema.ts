import { CNIS, type Cni, KUBERNETES_RELEASES, MAX_WORKERS } from '@breakfix/manifests';
import { z } from 'zod';

export const SCENARIO_FILE = 'scenario.yaml';
export const PHASES = ['break', 'check', 'solve'] as const;
export type Phase = (typeof PHASES)[number];
/** What a script is for: a phase, or a decoy (a plausible wrong fix the check must not accept). */
export type ScriptPurpose = Phase | 'decoy';

/** Ids name folders, queue jobs and Slack commands: short, lowercase, dash-separated. */
export const SCENARIO_ID = /^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$/;

/**
 * Where a script runs: `control-plane` (node `cp`), every worker, every node, or one node by the
 * name labNodes() gives it (`cp`, `w1` ... `w4`).
 */
export const NODE_SELECTOR = /^(control-plane|workers|all|cp|w[1-9])$/;
export type NodeSelector = 'control-plane' | 'workers' | 'all' | 'cp' | `w${number}`;

const scriptRef = z.strictObject({
  /** File in the scenario folder, e.g. `break.sh` or `check-w1.sh`. */
  run: z
    .string()
    .regex(/^[A-Za-z0-9._-]+$/, 'must be a file name in the scenario folder (letters, digits, . _ -)')
    .refine((name) => name !== SCENARIO_FILE, 'cannot be scenario.yaml'),
  on: z
    .string()
    .regex(NODE_SELECTOR, 'must be control-plane, workers, all, cp or a worker name like w1')
    .default('control-plane'),
});

const supportedMinors = KUBERNETES_RELEASES.map((release) => release.minor);

/** scenario.yaml as an instructor writes it. Defaults are filled in here, so the rest trusts it. */
export const scenarioFileSchema = z.strictObject({
  id: z.string().regex(SCENARIO_ID, 'must be lowercase letters, digits and dashes, 1-50 characters'),
  title: z.string().trim().min(5, 'is too short to tell learners what this is').max(100),
  /** Learner-facing markdown: the situation and the goal, never the cause. */
  brief: z.string().trim().min(20, 'must tell the learner what is wrong and what "fixed" looks like'),
  difficulty: z.enum(['beginner', 'intermediate', 'advanced']),
  tags: z.array(z.string().regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits and dashes')).min(1),
  /** Kubernetes minors the scenario was written for; each must be in the version catalog. */
  kubernetesVersions: z
    .array(
      z
        .string()
        .transform((v) => v.trim().replace(/^v/, ''))
        .refine((v) => supportedMinors.includes(v), {
          message: `is not a supported Kubernetes version; supported: ${supportedMinors.join(', ')}`,
        }),
    )
    .min(1),
  topology: z.strictObject({
    workers: z
      .number()
      .int('must be a whole number')
      .min(0, 'cannot be negative')
      .max(MAX_WORKERS, `cannot be more than ${MAX_WORKERS}`),
  }),
  timeLimitMinutes: z.number().int().min(5, 'is under 5 minutes').max(240, 'is over 4 hours'),
  /**
   * The lab's pod network. Pools are keyed by it too: a claim draws from a pool with the same
   * topology and CNI. Flannel labs enforce NetworkPolicy (kube-network-policies, docs/adr/0032);
   * no node image provides Calico yet.
   */
  cni: z.enum(CNIS).default('flannel'),
  /** `internet` opens egress to the internet for this lab (docs/adr/0005); most scenarios need none. */
  egress: z.enum(['none', 'internet']).default('none'),
  /** Written for the sandbox's simulated guests (busybox, no kubelet): never offered to learners. */
  simulator: z.boolean().default(false),
  /**
   * Which nodes can hold the scenario for a self-test. `vm`: only a VM, because it needs a kernel
   * of the node's own (swap, a module, a kernel-wide sysctl, NetworkPolicy enforcement). `any`
   * (the default): a container node too, which shares the host's kernel (docs/adr/0037).
   * Learners always get VMs.
   */
  nodes: z.enum(['any', 'vm']).default('any'),
  /** Revealed one at a time, in this order; the last may give the answer away. */
  hints: z.array(z.string().trim().min(1, 'is empty')).min(2, 'needs at least two hints, from a nudge to the answer'),
  /** Which file runs where, per phase. Absent phases run `<phase>.sh` on the control plane. */
  scripts: z
    .strictObject({
      break: z.array(scriptRef).min(1).optional(),
      check: z.array(scriptRef).min(1).optional(),
      solve: z.array(scriptRef).min(1).optional(),
    })
    .default({}),
  /**
   * Plausible wrong fixes, applied after the break (deleting the broken pod, cordoning the node,
   * restarting a service without fixing its configuration, pointing kubectl elsewhere). The
   * self-test runs each and requires the check to keep failing, then solves from there: a decoy
   * must leave the lab as broken as before, and solvable by solve.sh. Lint requires at least one
   * for every scenario that is not simulator-only.
   */
  decoys: z.array(scriptRef).default([]),
});

export type ScenarioFile = z.output<typeof scenarioFileSchema>;

export interface ScenarioScript {
  phase: ScriptPurpose;
  /** File name in the scenario folder. */
  file: string;
  /** Absolute path on this machine. */
  path: string;
  on: NodeSelector;
  content: string;
}

/** A loaded, validated scenario with its scripts read into memory. */
export interface Scenario {
  id: string;
  title: string;
  brief: string;
  difficulty: ScenarioFile['difficulty'];
  tags: string[];
  kubernetesVersions: string[];
  topology: { workers: number };
  cni: Cni;
  timeLimitMinutes: number;
  egress: ScenarioFile['egress'];
  simulator: boolean;
  nodes: ScenarioFile['nodes'];
  hints: string[];
  /** The folder it was loaded from. */
  dir: string;
  scripts: Record<Phase, ScenarioScript[]>;
  /** In the order listed; empty for most simulator scenarios. */
  decoys: ScenarioScript[];
}

import type { LabTargets, ScenarioRunner } from './runner.js';
import type { Scenario } from './schema.js';

export interface SelfTestStep {
  name: 'break' | 'break again' | 'check fails' | 'decoy' | 'solve' | 'check passes';
  ok: boolean;
  detail: string[];
  durationMs: number;
}

export interface SelfTestReport {
  ok: boolean;
  steps: SelfTestStep[];
}

export interface SelfTestOptions {
  /**
   * How long after the solve a failing check is run again, as a learner who just fixed the lab
   * runs `/lab check` again while it settles (a static pod restarting, a probe period, a rollout).
   * Only the last step waits: a check that passes after the break or a decoy fails at once.
   * Default 120 s.
   */
  settleMs?: number;
  /** Pause between those checks. Default 10 s. */
  settleIntervalMs?: number;
}

/**
 * The proof every scenario owes: break -> break again (harmless) -> check fails with feedback ->
 * each decoy, after which the check still fails -> solve -> check passes (within the settle
 * window). Solving after the decoys also proves they leave the lab solvable, as a learner's wrong
 * attempt would. Stops at the first step that does not hold; `report` hears each step as it
 * finishes. Errors from the runner (deadline, dropped connection, a decoy that fails to apply)
 * propagate to the caller.
 */
export async function selfTest(
  runner: ScenarioRunner,
  scenario: Scenario,
  lab: LabTargets,
  report: (step: SelfTestStep) => void = () => {},
  options: SelfTestOptions = {},
): Promise<SelfTestReport> {
  const settleMs = options.settleMs ?? 120_000;
  const settleIntervalMs = options.settleIntervalMs ?? 10_000;
  const steps: SelfTestStep[] = [];
  const record = (step: SelfTestStep) => {
    steps.push(step);
    report(step);
    return step.ok;
  };
  const timed = async <T>(work: () => Promise<T>): Promise<[T, number]> => {
    const started = Date.now();
    const value = await work();
    return [value, Date.now() - started];
  };

  const [broken, breakMs] = await timed(() => runner.applyBreak(scenario, lab, { force: true }));
  record({
    name: 'break',
    ok: true,
    detail: broken.map((s) => `${s.file} on ${s.node}: exit ${s.code}`),
    durationMs: breakMs,
  });

  const [again, againMs] = await timed(() => runner.applyBreak(scenario, lab));
  const skipped = again.every((s) => s.skipped);
  if (
    !record({
      name: 'break again',
      ok: skipped,
      detail: skipped ? ['already applied: skipped'] : again.map((s) => `${s.file} on ${s.node} ran again`),
      durationMs: againMs,
    })
  )
    return { ok: false, steps };

  const [failing, failingMs] = await timed(() => runner.check(scenario, lab));
  const specific = !failing.solved && failing.steps.some((s) => s.code !== 0 && s.stdout.trim() !== '');
  if (
    !record({
      name: 'check fails',
      ok: specific,
      detail: failing.solved
        ? ['check passed on a broken lab: it does not detect the break']
        : specific
          ? failing.feedback
          : ['check failed without saying what is wrong: print one line per problem', ...failing.feedback],
      durationMs: failingMs,
    })
  )
    return { ok: false, steps };

  for (const decoy of scenario.decoys) {
    const [[applied, after], decoyMs] = await timed(async () => {
      const steps = await runner.applyDecoy(scenario, decoy, lab);
      return [steps, await runner.check(scenario, lab)] as const;
    });
    const where = applied.map((s) => `${decoy.file} on ${s.node}: exit ${s.code}`);
    if (
      !record({
        name: 'decoy',
        ok: !after.solved,
        detail: after.solved
          ? [`check passed after decoy ${decoy.file}: it cannot tell this wrong fix from a real one`, ...where]
          : [...where, ...after.feedback.map((line) => `still failing: ${line}`)],
        durationMs: decoyMs,
      })
    )
      return { ok: false, steps };
  }

  const [solved, solveMs] = await timed(() => runner.solve(scenario, lab));
  record({
    name: 'solve',
    ok: true,
    detail: solved.map((s) => `${s.file} on ${s.node}: exit ${s.code}`),
    durationMs: solveMs,
  });

  const [[passing, attempts], passingMs] = await timed(async () => {
    const until = Date.now() + settleMs;
    let attempts = 1;
    let result = await runner.check(scenario, lab);
    while (!result.solved && Date.now() + settleIntervalMs < until) {
      await new Promise((resolve) => setTimeout(resolve, settleIntervalMs));
      attempts += 1;
      result = await runner.check(scenario, lab);
    }
    return [result, attempts] as const;
  });
  const tries = attempts === 1 ? '' : ` (${attempts} checks over ${Math.round(passingMs / 1000)} s)`;
  record({
    name: 'check passes',
    ok: passing.solved,
    detail: passing.solved ? [`solved${tries}`] : [`check still fails after solve${tries}:`, ...passing.feedback],
    durationMs: passingMs,
  });
  return { ok: passing.solved, steps };
}

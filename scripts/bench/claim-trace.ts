import type { ClaimStep, ClaimStepEvent } from '@breakfix/pool';
import type { SshConnectEvent } from '@breakfix/ssh';
import { type Figure, latency, value } from './stats.js';

/** The steps in the order a claim runs them (claim-trace.ts in packages/pool says what each is). */
const STEPS: readonly ClaimStep[] = [
  'redis_claim',
  'vmi_lookup',
  'keys_generate',
  'service_create',
  'key_install',
  'lab_key',
  'prepare',
  'connection_address',
  'record',
  'release_after_failure',
  'total',
];

/**
 * Collects a claim path's trace (LabAccessOptions.trace) and its SSH runner's handshakes
 * (SshRunnerOptions.onConnect) while `recording`, and turns them into one figure per step.
 */
export function createTraceCollector(users: { operator: string; learner: string }) {
  let recording = false;
  const steps: ClaimStepEvent[] = [];
  const handshakes: SshConnectEvent[] = [];
  return {
    record(on: boolean): void {
      recording = on;
    },
    step(event: ClaimStepEvent): void {
      if (recording) steps.push(event);
    },
    handshake(event: SshConnectEvent): void {
      if (recording) handshakes.push(event);
    },
    /** The total of each claim, by learner (to set against what the caller measured). */
    totals(): Map<string, number> {
      return new Map(steps.filter((e) => e.step === 'total').map((e) => [e.learner, e.ms]));
    },

    /**
     * Per step: p50/p90/p99/max over every claim that ran it (`key_install` once per node). Then
     * `unaccounted`: each claim's total minus its steps (per-node steps run side by side, so
     * their longest counts), which is time spent between steps — waiting for the event loop.
     * Then the SSH handshakes the claims opened, by account, and how many a claim needed.
     */
    *figures(prefix: string): Generator<Figure> {
      for (const step of STEPS) {
        const events = steps.filter((e) => e.step === step);
        if (events.length === 0) continue;
        yield latency(
          `${prefix}.step.${step}`,
          events.map((e) => e.ms),
          { failures: events.filter((e) => !e.ok).length, digits: 2 },
        );
      }
      const byClaim = new Map<string, ClaimStepEvent[]>();
      for (const event of steps) byClaim.set(event.learner, [...(byClaim.get(event.learner) ?? []), event]);
      const gaps: number[] = [];
      for (const events of byClaim.values()) {
        const total = events.find((e) => e.step === 'total');
        if (total === undefined) continue;
        const longest = new Map<ClaimStep, number>();
        for (const e of events) if (e.step !== 'total') longest.set(e.step, Math.max(longest.get(e.step) ?? 0, e.ms));
        gaps.push(total.ms - [...longest.values()].reduce((sum, ms) => sum + ms, 0));
      }
      if (gaps.length > 0) yield latency(`${prefix}.step.unaccounted (total minus its steps)`, gaps, { digits: 2 });

      const claims = byClaim.size;
      for (const [who, user] of Object.entries(users)) {
        const mine = handshakes.filter((h) => h.username === user);
        if (mine.length === 0) continue;
        yield latency(
          `${prefix}.ssh_handshake.${who} (TCP + key exchange + auth, inside the steps above)`,
          mine.map((h) => h.ms),
          { failures: mine.filter((h) => !h.ok).length, digits: 2 },
        );
        if (claims > 0)
          yield value(`${prefix}.ssh_handshakes_per_claim.${who}`, mine.length / claims, 'handshakes', {
            n: claims,
            digits: 2,
          });
      }
    },
  };
}

export type TraceCollector = ReturnType<typeof createTraceCollector>;

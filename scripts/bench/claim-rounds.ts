import { performance } from 'node:perf_hooks';
import { waitFor } from '@breakfix/core';
import { parseLabSpec } from '@breakfix/manifests';
import type { Sandbox } from '@breakfix/sandbox';

export interface ClaimRoundsOptions {
  sandbox: Sandbox;
  /** Learner names start with this (one lab per learner: every claim gets a new name). */
  label: string;
  /** Claims measured, in rounds of `atOnce`; the last round may be smaller. */
  claims: number;
  /** Labs per round: each round claims a freshly warmed pool of this many. */
  atOnce: number;
  /** `concurrent`: a round's claims all start together; `one_at_a_time`: each waits for the last. */
  mode: 'concurrent' | 'one_at_a_time';
  /** Claims made one at a time before the first round, on a pool of their own, and not measured. */
  warmup: number;
  /** Makes `count` labs ready in the pool (not timed); resolves with the provisions that failed on the way. */
  warm(count: number): Promise<number>;
  /**
   * After the pool is warm, before its claims (not timed): what a pool that has been ready for a
   * while has, such as the orchestrator's kept SSH connections to its labs (ADR 22).
   */
  settle?(): Promise<void>;
  /**
   * One claim; resolves with the lab's id, rejects when the claim failed. It may resolve with
   * the claim's own duration too, measured where the request was made (another thread), which
   * then stands for the sample instead of the time this thread took to hear of it.
   */
  claim(learner: string): Promise<string | { labId: string; ms: number }>;
  /** Releases every claimed lab and tears down every lab of the pool (not timed). */
  clear(): Promise<void>;
  /** Told true just before a round's claims start and false once they all ended (trace recording). */
  measuring?(on: boolean): void;
  /** After each measured round, before clear: checks on what was claimed (not timed). */
  afterRound?(claimed: readonly { learner: string; labId: string }[]): Promise<void>;
}

export interface ClaimSamples {
  /** Every measured claim's duration, failed ones included. */
  ms: number[];
  failures: number;
  /** Failure messages and how often each came (the first line each). */
  errors: Map<string, number>;
  /** How long warming each round's pool took, in seconds. */
  warmSeconds: number[];
  /** Provisions that failed while warming (and were replaced). */
  warmFailures: number;
}

/** What warmPool needs of the provisioner. */
export interface Provisions {
  provision(request: {
    id: string;
    pool: string;
    spec: ReturnType<typeof parseLabSpec>;
  }): Promise<'ready' | 'failed' | 'skipped'>;
}

/**
 * Provisions `count` one-node labs in `pool` at once, and replaces any that fail (a loaded
 * machine misses the provisioner's deadlines now and then), up to three times over. Resolves with
 * how many failed; throws when the pool still is not full.
 */
export async function warmPool(
  provisioner: Provisions,
  pool: string,
  count: number,
  nextId: () => string,
): Promise<number> {
  let failed = 0;
  let missing = count;
  for (let attempt = 0; attempt < 3 && missing > 0; attempt++) {
    const outcomes = await Promise.all(
      Array.from({ length: missing }, () => {
        const id = nextId();
        // A provision that throws (the apiserver dropped a request under load) cleaned up after
        // itself like a failed one: replaced, not fatal to the series.
        return provisioner
          .provision({ id, pool, spec: parseLabSpec({ labId: id, kubernetesVersion: '1.36' }) })
          .catch((error: unknown) => {
            console.error(`warming ${pool}: ${id}: ${(error as Error).message}`);
            return 'failed' as const;
          });
      }),
    );
    const short = outcomes.filter((o) => o !== 'ready').length;
    failed += short;
    missing = short;
  }
  if (missing > 0)
    throw new Error(`warming the pool: ${missing} of ${count} labs still not ready after ${failed} failures`);
  return failed;
}

/**
 * Measures claims the way learners meet them: warm-up first and excluded, then rounds on a pool
 * warmed just before (so every claim finds a ready lab, as on a pool that keeps up), each round
 * cleared and its guests gone before the next, so rounds do not pile up processes. A failed
 * claim is a sample too, counted in `failures`.
 */
export async function claimRounds(options: ClaimRoundsOptions): Promise<ClaimSamples> {
  const samples: ClaimSamples = { ms: [], failures: 0, errors: new Map(), warmSeconds: [], warmFailures: 0 };
  const settle = async () => {
    await options.clear();
    await waitFor(async () => ((options.sandbox.simulator?.guests().length ?? 0) === 0 ? true : undefined), {
      what: 'the guests of the last round to stop',
      timeoutMs: 120_000,
      intervalMs: 100,
    });
  };

  if (options.warmup > 0) {
    samples.warmFailures += await options.warm(options.warmup);
    await options.settle?.();
    for (let i = 0; i < options.warmup; i++) {
      await options.claim(`${options.label}-warmup${i}`).catch(() => undefined);
    }
    await settle();
  }

  const rounds = Math.ceil(options.claims / options.atOnce);
  for (let round = 0; round < rounds; round++) {
    const size = Math.min(options.atOnce, options.claims - round * options.atOnce);
    const warmStarted = performance.now();
    samples.warmFailures += await options.warm(size);
    samples.warmSeconds.push((performance.now() - warmStarted) / 1000);
    await options.settle?.();

    const claimed: { learner: string; labId: string }[] = [];
    const one = async (i: number) => {
      const learner = `${options.label}-r${round}-${i}`;
      const started = performance.now();
      let ms: number | undefined;
      try {
        const result = await options.claim(learner);
        if (typeof result === 'string') claimed.push({ learner, labId: result });
        else {
          claimed.push({ learner, labId: result.labId });
          ms = result.ms;
        }
      } catch (error) {
        samples.failures++;
        const message = String((error as Error).message).split('\n')[0] ?? '';
        samples.errors.set(message, (samples.errors.get(message) ?? 0) + 1);
        ms = (error as { ms?: number }).ms;
      } finally {
        samples.ms.push(ms ?? performance.now() - started);
      }
    };
    options.measuring?.(true);
    if (options.mode === 'concurrent') await Promise.all(Array.from({ length: size }, (_, i) => one(i)));
    else for (let i = 0; i < size; i++) await one(i);
    options.measuring?.(false);

    await options.afterRound?.(claimed);
    await settle();
  }
  for (const [message, count] of samples.errors) console.error(`${options.label}: ${count} x ${message}`);
  return samples;
}

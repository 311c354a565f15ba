/**
 * The shape of every benchmark line, and the one place percentiles are computed.
 *
 * A percentile is only named when enough samples lie above it to mean something: p99 needs 200
 * samples (two above it), p90 by the same rule 20, p50 (the median) 3. Below that the key is left
 * out and `max` with `n` says what was seen: "p99" of 50 samples is the maximum under another name.
 */
export const MIN_SAMPLES = { p50: 3, p90: 20, p99: 200 } as const;

/** A latency distribution. `n` counts every attempt, failed ones included; `failures` says how many failed. */
export interface LatencyFigure {
  name: string;
  unit: string;
  n: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max: number;
  failures: number;
}

/** One number: a count, a rate, a single timing. `n` says how many operations or runs it stands for. */
export interface ValueFigure {
  name: string;
  unit: string;
  n: number;
  value: number;
  failures?: number;
}

export type Figure = LatencyFigure | ValueFigure;

/** Nearest-rank percentile of unsorted samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('no samples');
  const sorted = [...values].sort((a, b) => a - b);
  return nearestRank(sorted, p);
}

function nearestRank(sorted: readonly number[], p: number): number {
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export const round = (value: number, digits = 1) => Number(value.toFixed(digits));

/**
 * Summarizes samples as p50/p90/p99/max, leaving out each percentile the sample count cannot
 * support (MIN_SAMPLES). Pass the durations of failed attempts too and count them in `failures`:
 * a learner waited for those as well.
 */
export function latency(
  name: string,
  samples: readonly number[],
  options: { unit?: string; failures?: number; digits?: number } = {},
): LatencyFigure {
  if (samples.length === 0) throw new Error(`${name}: no samples`);
  const digits = options.digits ?? 1;
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: 50 | 90 | 99) =>
    sorted.length >= MIN_SAMPLES[`p${p}`] ? { [`p${p}`]: round(nearestRank(sorted, p), digits) } : {};
  return {
    name,
    unit: options.unit ?? 'ms',
    n: sorted.length,
    ...at(50),
    ...at(90),
    ...at(99),
    max: round(sorted[sorted.length - 1] as number, digits),
    failures: options.failures ?? 0,
  };
}

/** A single number; `n` is the operations or runs behind it (1 for a single timing). */
export function value(
  name: string,
  figure: number,
  unit: string,
  options: { n?: number; failures?: number; digits?: number } = {},
): ValueFigure {
  return {
    name,
    unit,
    n: options.n ?? 1,
    value: round(figure, options.digits ?? 1),
    ...(options.failures === undefined ? {} : { failures: options.failures }),
  };
}

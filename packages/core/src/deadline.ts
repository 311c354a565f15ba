import { setTimeout as sleep } from 'node:timers/promises';
import { DeadlineExceededError } from './errors.js';

export interface WaitOptions {
  /** What we are waiting for, in words for the error message. */
  what: string;
  timeoutMs: number;
  /** Pause between polls. Default 50 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
  /** An error the probe throws that no retry can cure: it ends the wait at once. */
  isFinal?: (error: unknown) => boolean;
}

/**
 * Polls `probe` until it returns a value other than `undefined`, or fails with a
 * DeadlineExceededError naming `what` and the last error the probe threw. A thrown error for
 * which `isFinal` says true is rethrown at once.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, options: WaitOptions): Promise<T> {
  const { what, timeoutMs, intervalMs = 50, signal, isFinal } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const value = await probe();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      if (isFinal?.(error)) throw error;
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const reason = lastError instanceof Error ? `: last error: ${lastError.message}` : '';
      throw new DeadlineExceededError(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`, {
        cause: lastError,
      });
    }
    await sleep(intervalMs, undefined, signal ? { signal } : undefined);
  }
}

/** Runs `work` with an AbortSignal that fires after `timeoutMs`; rejects with DeadlineExceededError. */
export async function withDeadline<T>(
  what: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new DeadlineExceededError(`${what} did not finish within ${timeoutMs} ms`);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

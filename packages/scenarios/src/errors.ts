import { DeadlineExceededError, UpstreamError } from '@breakfix/core';
import type { ScriptPurpose } from './schema.js';

export interface ScriptRef {
  scenario: string;
  phase: ScriptPurpose;
  node: string;
  file: string;
}

function where(ref: ScriptRef): string {
  return `${ref.scenario}/${ref.file} (${ref.phase} on ${ref.node})`;
}

/**
 * The lab itself misbehaved: the connection dropped mid-script, SSH refused us, or the node
 * presented a host key other than the pinned one. The scenario is not to blame, and the lab cannot
 * be trusted: the caller marks it for attention (and usually replaces it). `code` stays `upstream`,
 * so the existing edges map it; `needsAttention` is what callers test.
 */
export class LabNeedsAttentionError extends UpstreamError {
  readonly needsAttention = true;
  readonly labId: string;
  readonly node: string;

  constructor(labId: string, node: string, message: string, options: { cause?: unknown } = {}) {
    super(`lab ${labId}, node ${node}: ${message}`, {
      ...options,
      hint: 'mark the lab for attention and hand the learner another one; the SSH error is in `cause`',
    });
    this.labId = labId;
    this.node = node;
  }
}

/** A break or solve script exited non-zero: the scenario (or the lab it ran on) is broken. */
export class ScenarioScriptError extends UpstreamError {
  readonly ref: ScriptRef;
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;

  constructor(ref: ScriptRef, result: { code: number | null; stdout: string; stderr: string }) {
    const tail = lastLines(result.stderr || result.stdout, 5);
    super(`${where(ref)} exited ${result.code}${tail === '' ? '' : `: ${tail}`}`, {
      hint: 'run `labctl scenario test <id>` to reproduce it; a script must succeed on a fresh lab',
    });
    this.ref = ref;
    this.exitCode = result.code;
    this.stdout = result.stdout;
    this.stderr = result.stderr;
  }
}

/** A script overran its deadline; it was killed (on the node too, by `timeout`). */
export class ScenarioScriptTimeoutError extends DeadlineExceededError {
  readonly ref: ScriptRef;
  readonly timeoutMs: number;
  readonly stdout: string;

  constructor(ref: ScriptRef, timeoutMs: number, partial: { stdout: string }, cause: unknown) {
    super(`${where(ref)} did not finish within ${timeoutMs} ms; killed`, {
      cause,
      hint: 'a script must not wait on anything unbounded: give every wait its own timeout',
    });
    this.ref = ref;
    this.timeoutMs = timeoutMs;
    this.stdout = partial.stdout;
  }
}

function lastLines(text: string, count: number): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

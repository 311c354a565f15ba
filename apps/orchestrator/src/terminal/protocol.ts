import type { RawData } from 'ws';

// What browser and orchestrator say over a terminal's WebSocket. Shell output travels as binary
// frames, untouched; everything else is a small JSON text frame.

/** Browser → orchestrator: keystrokes (`i`) or a new window size (`r`). */
export type ClientFrame = { t: 'i'; d: string } | { t: 'r'; cols: number; rows: number };

/** Orchestrator → browser, besides output. */
export type ServerControl =
  /** A line for the status bar. */
  | { t: 'status'; text: string }
  /** A banner (the idle warning); null takes it down. */
  | { t: 'notice'; text: string | null }
  /** How many instructors watch this lab's terminal right now. */
  | { t: 'watchers'; count: number }
  /** The lab ended: why, and what to do. The socket closes next. */
  | { t: 'ended'; text: string }
  /** Observers: the terminal they follow changed, clear the screen. */
  | { t: 'reset' }
  /** Observers: the size of the learner's pty, to lay the output out the same way. */
  | { t: 'size'; cols: number; rows: number };

/**
 * Close codes the browser acts on: `refused` and `ended` are final (it says why and stops),
 * `shellExited` waits for a key press, anything else reconnects to a fresh shell.
 */
export const CLOSE = {
  shellExited: 4000,
  ended: 4001,
  refused: 4003,
  unavailable: 4011,
} as const;

/** A well-formed frame from the browser, or undefined (ignored: a page of ours never sends one). */
export function parseClientFrame(data: RawData, isBinary: boolean): ClientFrame | undefined {
  if (isBinary) return undefined;
  try {
    const frame = JSON.parse(data.toString()) as Partial<{ t: string; d: unknown; cols: unknown; rows: unknown }>;
    if (frame.t === 'i' && typeof frame.d === 'string') return { t: 'i', d: frame.d };
    const inRange = (n: unknown, max: number): n is number =>
      Number.isInteger(n) && (n as number) >= 1 && (n as number) <= max;
    if (frame.t === 'r' && inRange(frame.cols, 500) && inRange(frame.rows, 200)) {
      return { t: 'r', cols: frame.cols, rows: frame.rows };
    }
  } catch {
    // not JSON: ignored like any other malformed frame
  }
  return undefined;
}

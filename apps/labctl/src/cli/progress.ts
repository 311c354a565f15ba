/**
 * One status line on a terminal for the long waits (a claim in the queue, a lab booting, a scenario's
 * phases): a spinner, what is going on and for how long, redrawn in place on stderr. Lines printed
 * meanwhile go above it. Where stderr is not a terminal, or with --json, there is no status line:
 * the plain lines alone, so logs and pipes never see carriage returns or escape codes.
 */
export interface Progress {
  /** True when a status line is drawn; otherwise status() does nothing. */
  readonly live: boolean;
  /**
   * Shows `label` and the time since `since` (default: since this call; the same label again keeps
   * counting), until the next status, stop or the end.
   */
  status(label: string, since?: number): void;
  /** Prints one line (through `write`) above the status line. */
  line(text: string, write?: (text: string) => void): void;
  /** Clears the status line. */
  stop(): void;
}

/** The part of a stream this needs; process.stderr is one. */
export interface StatusStream {
  isTTY?: boolean;
  columns?: number;
  write(chunk: string): unknown;
}

export interface ProgressOptions {
  /** Default: process.stderr. */
  stream?: StatusStream;
  /** No status line with --json. Default: false. */
  json?: boolean;
  /** How often the line is redrawn. Default: 250 ms. */
  intervalMs?: number;
  /** Default: the process's environment (TERM=dumb means no status line). */
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const CLEAR = '\r\x1b[K';

export function createProgress(options: ProgressOptions = {}): Progress {
  const { stream = process.stderr, json = false, intervalMs = 250, env = process.env, now = Date.now } = options;
  const live = !json && stream.isTTY === true && env.TERM !== 'dumb';
  const print = (text: string) => stream.write(`${text}\n`);
  let label: string | undefined;
  let since = 0;
  let frame = 0;
  let drawn = false;
  let timer: NodeJS.Timeout | undefined;

  const draw = () => {
    if (label === undefined) return;
    frame = (frame + 1) % FRAMES.length;
    const text = `${FRAMES[frame]} ${label} (${elapsed(now() - since)})`;
    // a terminal of unknown size (0 columns, as under `script` without one) counts as 80 wide
    const width = Math.max(20, (stream.columns || 80) - 1);
    stream.write(`${CLEAR}${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) stream.write(CLEAR);
    drawn = false;
  };

  return {
    live,
    status(text, from) {
      if (!live) return;
      if (from !== undefined) since = from;
      else if (text !== label) since = now();
      label = text;
      draw();
      // unref: a status line never keeps labctl running
      timer ??= setInterval(draw, intervalMs).unref();
    },
    line(text, write = print) {
      clear();
      write(text);
      if (live) draw();
    },
    stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      label = undefined;
      clear();
    },
  };
}

/** `7 s`, `3 min 05 s`. */
export function elapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

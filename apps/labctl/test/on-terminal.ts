import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));

/** What labctl's status line starts each redraw with: back to the start of the line, erase it. */
export const CLEAR_LINE = '\r\x1b[K';

/**
 * labctl under a pseudo-terminal (util-linux `script`), as on an operator's screen: stdout and
 * stderr are one terminal, and `output` is what it showed, with its carriage returns and escapes.
 */
export function onTerminal(
  cwd: string,
  env: Record<string, string>,
  args: string[],
  timeoutMs = 60_000,
): Promise<{ code: number; output: string }> {
  const quote = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, LABCTL, ...args].map(quote).join(' ');
  const clean = { ...process.env, BREAKFIX_API_URL: '', BREAKFIX_TOKEN: '', ...env, TERM: 'xterm', SHELL: '/bin/sh' };
  return new Promise((resolve) => {
    execFile(
      'script',
      ['--quiet', '--return', '--flush', '--command', command, '/dev/null'],
      { cwd, env: clean, timeout: timeoutMs },
      (error, stdout) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, output: stdout }),
    );
  });
}

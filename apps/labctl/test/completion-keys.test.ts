import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { waitFor } from '@breakfix/core';

// The Tab key in a real interactive shell, under a pseudo-terminal (util-linux `script`), with the
// completion loaded the way the README says: an alias for labctl, then `source <(labctl completion
// <shell>)` (zsh: after compinit). cli.test.ts calls the completion functions directly; this is
// the path a user's key press takes through zle or readline.

const LABCTL = fileURLToPath(new URL('../bin/labctl.mjs', import.meta.url));
const TIMEOUT = { timeout: 90_000 };
const PROMPT = 'READY> ';
const home = mkdtempSync(join(tmpdir(), 'completion-keys-'));

const RC = {
  zsh: [
    'bindkey -e',
    'autoload -Uz compinit && compinit -u -D',
    `alias labctl=${LABCTL}`,
    'source <(labctl completion zsh)',
    `PS1='${PROMPT}'`,
  ],
  bash: [`alias labctl=${LABCTL}`, 'source <(labctl completion bash)', `PS1='${PROMPT}'`],
};

/** An interactive shell on a pty: what it printed so far (escapes removed), and keys to type. */
class Interactive {
  private raw = '';
  readonly child: ChildProcess;
  constructor(shell: 'bash' | 'zsh') {
    const rc = join(home, shell === 'zsh' ? '.zshrc' : '.bashrc');
    writeFileSync(rc, `${RC[shell].join('\n')}\n`);
    const command = shell === 'zsh' ? 'zsh -i' : `bash --noprofile --rcfile ${rc} -i`;
    this.child = spawn('script', ['--quiet', '--flush', '--command', command, '/dev/null'], {
      cwd: home,
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: home,
        ZDOTDIR: home,
        TERM: 'xterm',
        EDITOR: '',
        VISUAL: '',
        HISTFILE: join(home, `${shell}.history`),
        BREAKFIX_API_URL: '',
        BREAKFIX_TOKEN: '',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (data: Buffer) => {
      this.raw += data.toString();
    });
    this.child.stderr?.on('data', (data: Buffer) => {
      this.raw += data.toString();
    });
  }
  /** What the terminal showed, without escape sequences and carriage returns. */
  get screen(): string {
    return stripVTControlCharacters(this.raw).replace(/\r/g, '');
  }
  keys(text: string): void {
    this.child.stdin?.write(text);
  }
  async until(what: string, pattern: RegExp): Promise<RegExpExecArray> {
    return waitFor(async () => pattern.exec(this.screen) ?? undefined, {
      what,
      timeoutMs: 30_000,
      intervalMs: 20,
    }).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; the terminal showed:\n${this.screen.slice(-1500)}`, {
        cause: error,
      });
    });
  }
  /**
   * Types `typed`, presses Tab, types `END` (a word of its own when the completion ended in a
   * space), then shows what the line became: Ctrl-A (start of line) and `echo <marker>=` put in
   * front of it, Enter runs it, and the shell prints the line back.
   */
  async complete(typed: string, marker: string): Promise<string> {
    this.keys(`${typed}\tEND`);
    this.keys(`\x01echo ${marker}=\r`);
    const [, line] = await this.until(
      `the line of ${JSON.stringify(typed)} after Tab`,
      new RegExp(`\\n${marker}=(.*)\\n`),
    );
    return line ?? '';
  }
}

const shells: Interactive[] = [];
after(() => {
  for (const shell of shells) if (shell.child.exitCode === null) shell.child.kill('SIGKILL');
});

describe('labctl completion on the Tab key, in an interactive shell', () => {
  for (const shell of ['zsh', 'bash'] as const) {
    test(`${shell}: Tab completes a command, a subcommand and a flag on the line`, TIMEOUT, async () => {
      // Given an interactive shell that loaded the completion as the README says
      const term = new Interactive(shell);
      shells.push(term);
      await term.until('the prompt after the rc file', new RegExp(`${PROMPT}$`));

      // When the user types a prefix and presses Tab, the line gets the whole word and a space
      assert.equal(await term.complete('labctl sc', 'LINE1'), 'labctl scenario END');
      assert.equal(await term.complete('labctl scenario te', 'LINE2'), 'labctl scenario test END');
      assert.equal(await term.complete('labctl render --wo', 'LINE3'), 'labctl render --workers END');
      assert.equal(
        await term.complete('labctl claim sim-kubeconfig-d', 'LINE4'),
        'labctl claim sim-kubeconfig-drift END',
      );

      term.keys('exit\r');
      await new Promise((resolve) => term.child.once('exit', resolve));
    });
  }
});

import { spawn } from 'node:child_process';
import { UnsupportedEnvironmentError } from '@breakfix/core';

/** One simple command as written: its words (undefined where a word is not a plain literal) and line. */
export interface ShellCall {
  /** The command word; undefined when it is computed (`$cmd`, `$(...)`). */
  name: string | undefined;
  args: (string | undefined)[];
  line: number;
}

/** What the rules need to know about a script: its commands and the functions it defines. */
export interface ShellScript {
  /** Every simple command, including those in `$(...)`, pipelines, functions and here-documents. */
  calls: ShellCall[];
  /** Function name -> line of its definition. */
  functions: Map<string, number>;
  /** Scripts handed to `bash -c` / `sh -c` as a literal: a separate shell that sees none of the functions above. */
  nested: ShellScript[];
  /** Every simple command that reads a pipe (`b` and `grep` in `a | b | grep -q x`). */
  pipeReaders: ShellCall[];
  /** The script turns on `set -o pipefail` (`set -euo pipefail` too): a pipeline fails when any of its commands does. */
  pipefail: boolean;
}

/**
 * Commands that run the command named in their arguments. `unwrap` finds it, so a rule sees
 * `kubectl` in `timeout 5 kubectl get nodes` and the function call in `xargs -r my_helper`.
 * Each entry: the options that take a value (skipped with it) and how many plain words come first.
 */
const WRAPPERS: Record<string, { valued: string[]; leading: number; assignments?: boolean }> = {
  timeout: { valued: ['-s', '--signal', '-k', '--kill-after'], leading: 1 },
  env: { valued: ['-u', '--unset', '-C', '--chdir', '-S', '--split-string'], leading: 0, assignments: true },
  nice: { valued: ['-n', '--adjustment'], leading: 0 },
  nohup: { valued: [], leading: 0 },
  command: { valued: [], leading: 0 },
  exec: { valued: ['-a'], leading: 0 },
  sudo: { valued: ['-u', '--user', '-g', '--group', '-C', '-D', '--chdir'], leading: 0 },
  xargs: {
    valued: ['-I', '-i', '-n', '--max-args', '-P', '--max-procs', '-L', '-l', '-d', '--delimiter', '-s', '-E', '-a'],
    leading: 0,
  },
  watch: { valued: ['-n', '--interval'], leading: 0 },
};

/**
 * The command a call really runs, through wrappers (`timeout 5 kubectl ...` -> kubectl ...);
 * undefined when a wrapper's command cannot be told (`command -v x` runs nothing).
 */
export function unwrap(call: ShellCall): ShellCall | undefined {
  let current = call;
  for (let depth = 0; depth < 5; depth++) {
    const wrapper = current.name === undefined ? undefined : WRAPPERS[current.name];
    if (wrapper === undefined) return current;
    const words = current.args;
    let i = 0;
    let leading = wrapper.leading;
    while (i < words.length) {
      const word = words[i];
      if (word === undefined) {
        // A computed leading word (`timeout "$(left)" bash -c ...`) still leaves the command known.
        if (leading === 0) return undefined;
        leading--;
        i++;
        continue;
      }
      if (current.name === 'command' && /^-[vV]/.test(word)) return undefined;
      if (word === '--') {
        i++;
        break;
      }
      if (word.startsWith('-') && word.length > 1) {
        i += wrapper.valued.includes(word) ? 2 : 1;
        continue;
      }
      if (wrapper.assignments && /^[A-Za-z_][A-Za-z0-9_]*=/.test(word)) {
        i++;
        continue;
      }
      if (leading > 0) {
        leading--;
        i++;
        continue;
      }
      break;
    }
    if (i >= words.length) return undefined;
    current = { name: words[i], args: words.slice(i + 1), line: current.line };
  }
  return current;
}

export interface ParseOptions {
  /** The shfmt binary (mvdan/sh's parser). Default `shfmt` on PATH (scripts/ensure-deps.sh installs it). */
  shfmt?: string;
}

/**
 * Parses a bash or POSIX sh script with shfmt's parser (`--to-json`: the full syntax tree with
 * positions). Returns undefined when the script does not parse: shellcheck reports that, with
 * its line, and the rules built on this tree have nothing to say about such a file.
 */
export async function parseShell(content: string, options: ParseOptions = {}): Promise<ShellScript | undefined> {
  const tree = await shfmtTree(content, options.shfmt ?? 'shfmt');
  if (tree === undefined) return undefined;
  return collect(tree, 0, options);
}

async function collect(tree: unknown, lineOffset: number, options: ParseOptions): Promise<ShellScript> {
  const script: ShellScript = { calls: [], functions: new Map(), nested: [], pipeReaders: [], pipefail: false };
  const inner: { content: string; line: number }[] = [];
  walk(tree, (node) => {
    // `a | b | c` parses as ((a | b) | c): the right side of each pipe reads it.
    if (node.Type === 'BinaryCmd' && (node.Op === PIPE || node.Op === PIPE_ALL)) {
      const reader = (node.Y as Node | undefined)?.Cmd as Node | undefined;
      if (reader?.Type === 'CallExpr' && Array.isArray(reader.Args) && reader.Args.length > 0) {
        const words = (reader.Args as Node[]).map(literal);
        script.pipeReaders.push({ name: words[0], args: words.slice(1), line: lineOffset + line(reader) });
      }
    }
    if (node.Type === 'FuncDecl') {
      const name = (node.Name as { Value?: string } | undefined)?.Value;
      if (name !== undefined && !script.functions.has(name)) script.functions.set(name, lineOffset + line(node));
    }
    if (node.Type === 'CallExpr' && Array.isArray(node.Args) && node.Args.length > 0) {
      const words = (node.Args as Node[]).map(literal);
      const call: ShellCall = { name: words[0], args: words.slice(1), line: lineOffset + line(node) };
      script.calls.push(call);
      if (call.name === 'set' && setsPipefail(call.args)) script.pipefail = true;
      const run = unwrap(call);
      const flag = run?.args.indexOf('-c') ?? -1;
      const code = run?.args[flag + 1];
      if ((run?.name === 'bash' || run?.name === 'sh') && flag >= 0 && code !== undefined)
        inner.push({ content: code, line: call.line - 1 });
    }
  });
  for (const { content, line: offset } of inner) {
    const tree = await shfmtTree(content, options.shfmt ?? 'shfmt');
    if (tree !== undefined) script.nested.push(await collect(tree, offset, options));
  }
  return script;
}

type Node = Record<string, unknown>;

/** mvdan/sh's BinCmdOperator values for `|` and `|&`. */
const PIPE = 12;
const PIPE_ALL = 13;

/** `set -o pipefail`, `set -euo pipefail`: an option cluster ending in `o` followed by `pipefail`. */
function setsPipefail(args: (string | undefined)[]): boolean {
  return args.some((arg, i) => arg === 'pipefail' && /^-[A-Za-z]*o$/.test(args[i - 1] ?? ''));
}

function walk(value: unknown, visit: (node: Node) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit);
  } else if (value !== null && typeof value === 'object') {
    visit(value as Node);
    for (const child of Object.values(value)) if (typeof child === 'object') walk(child, visit);
  }
}

function line(node: Node): number {
  return (node.Pos as { Line?: number } | undefined)?.Line ?? 0;
}

/** A word's text when it is literal (plain, 'single' or "double" quoted without expansions). */
function literal(word: Node): string | undefined {
  let text = '';
  for (const part of (word.Parts as Node[] | undefined) ?? []) {
    if (part.Type === 'Lit' || part.Type === 'SglQuoted') text += String(part.Value ?? '');
    else if (part.Type === 'DblQuoted') {
      for (const inner of (part.Parts as Node[] | undefined) ?? []) {
        if (inner.Type !== 'Lit') return undefined;
        text += String(inner.Value ?? '');
      }
    } else return undefined;
  }
  return text;
}

function shfmtTree(content: string, binary: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--to-json', '-ln', 'bash'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.resume();
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new UnsupportedEnvironmentError(`${binary} is not installed`, {
              hint: 'apt-get install shfmt (scripts/ensure-deps.sh does it)',
            })
          : error,
      ),
    );
    child.on('close', (code) => resolve(code === 0 ? JSON.parse(Buffer.concat(out).toString('utf8')) : undefined));
    child.stdin.on('error', () => {});
    child.stdin.end(content);
  });
}

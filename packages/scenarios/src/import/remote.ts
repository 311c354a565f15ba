/**
 * Killercoda scripts run on the control plane and reach the worker with `ssh node01 '...'`. In a
 * breakfix lab nothing on the control plane holds a key to the worker (only the learner's lab key
 * does), so an imported script that keeps its `ssh` fails on a real lab. The commands it sends
 * over ssh become scripts of their own that the runner runs on the worker (`on: w1`), in order.
 */

export interface Segment {
  /** Where the runner runs this part: the control plane, or the node the ssh went to. */
  on: 'control-plane' | string;
  body: string;
}

export interface SplitScript {
  segments: Segment[];
  /** `ssh <node>` left in a form that cannot be moved (inside `$(...)`, a pipe, a condition). */
  unmoved: number;
  /** Shell variables a worker part uses that an earlier control-plane part set: they do not carry over. */
  crossingVariables: string[];
}

/**
 * Splits a script at every line that is a whole `ssh [options] [user@]<node> <command>` or an
 * `ssh <node> <<EOF ... EOF` heredoc, for each node in `nodes` (source name -> lab node name).
 * A command quoted as one word is unquoted; other lines stay where they are.
 */
export function splitRemoteCommands(script: string, nodes: Record<string, string>): SplitScript {
  const names = Object.keys(nodes).map(escapeRegExp).join('|');
  const sshLine = new RegExp(
    `^\\s*ssh\\s+(?:-\\S+(?:\\s+(?!(?:\\w+@)?(?:${names})\\b)[^-\\s]\\S*)?\\s+)*(?:\\w+@)?(${names})(?:\\s+(.*))?$`,
  );
  const segments: Segment[] = [];
  const push = (on: string, line: string) => {
    const last = segments.at(-1);
    if (last !== undefined && last.on === on) last.body += `\n${line}`;
    else segments.push({ on, body: line });
  };
  const lines = script.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const match = sshLine.exec(line);
    const node = match === null ? undefined : nodes[match[1] ?? ''];
    if (match === null || node === undefined) {
      push('control-plane', line);
      continue;
    }
    const rest = (match[2] ?? '').trim();
    const heredoc = /^(?:(?:bash|sh)(?:\s+-\S+)*\s+)?(?:-\s+)?<<-?\s*(['"]?)(\w+)\1\s*$/.exec(rest);
    if (heredoc !== null) {
      const end = heredoc[2] ?? '';
      const body: string[] = [];
      for (i++; i < lines.length && (lines[i] ?? '').trim() !== end; i++) body.push(lines[i] ?? '');
      push(node, body.join('\n'));
      continue;
    }
    if (rest === '') {
      // An interactive ssh in a script: nothing to run remotely.
      push('control-plane', line);
      continue;
    }
    push(node, unquote(rest));
  }
  const cleaned = segments
    .map((s) => ({ on: s.on, body: s.body.trim() }))
    .filter((s) => s.body !== '' && !/^(?:#[^\n]*\n?)*$/.test(s.body));
  const unmoved = cleaned
    .filter((s) => s.on === 'control-plane')
    .reduce((n, s) => n + [...s.body.matchAll(new RegExp(`\\bssh\\b[^\\n]*\\b(?:${names})\\b`, 'g'))].length, 0);
  return { segments: cleaned, unmoved, crossingVariables: crossing(cleaned) };
}

/** `'a && b'` -> `a && b`; `"a"` -> `a` when it has no expansion that would have run locally. */
function unquote(command: string): string {
  const single = /^'([^']*)'$/.exec(command);
  if (single !== null) return single[1] ?? '';
  const double = /^"((?:[^"\\]|\\.)*)"$/.exec(command);
  if (double !== null) return (double[1] ?? '').replace(/\\(["\\$`])/g, '$1');
  return command;
}

function crossing(segments: Segment[]): string[] {
  const found = new Set<string>();
  const assigned = new Set<string>();
  for (const segment of segments) {
    if (segment.on === 'control-plane') {
      for (const m of segment.body.matchAll(/(?:^|[\s;(])(?:export\s+|local\s+|readonly\s+)?([A-Za-z_]\w*)=/gm))
        assigned.add(m[1] ?? '');
      continue;
    }
    for (const m of segment.body.matchAll(/\$\{?([A-Za-z_]\w*)/g)) if (assigned.has(m[1] ?? '')) found.add(m[1] ?? '');
  }
  return [...found];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

import { UpstreamError } from '@breakfix/core';
import { quote, type SshRunner, type SshTarget } from '@breakfix/ssh';

/** One learner SSH session on a node, as sshd's own process title names it (`sshd: learner@pts/0`). */
export interface LearnerSession {
  /** `pts/0`, or `notty` for a session without a terminal (a command, a forward). */
  tty: string;
  /**
   * Seconds since the session's terminal last saw input or output (the later of the pty's atime
   * and mtime, which the kernel keeps to 8 s), measured on the node's own clock. Undefined for a
   * session without a terminal or whose terminal could not be read.
   */
  idleSeconds?: number;
}

export interface NodeSessions {
  node: string;
  sessions: LearnerSession[];
}

const MARKER = 'breakfix-sessions';

/**
 * The probe, in POSIX sh over /proc (busybox and Debian alike; no `ps` flags to disagree on):
 * every process whose title is `sshd: <user>@<tty>` (OpenSSH before 9.8) or
 * `sshd-session: <user>@<tty>` (9.8 on) is one session of that user; the operator's own session,
 * which runs this, is another user's and never matches. Its terminal's age comes from the node's
 * own clock, so the operator's clock and the node's need not agree.
 */
export function sessionProbeScript(user: string): string {
  const u = quote(user);
  return [
    `u=${u}`,
    'now=$(date +%s)',
    `echo ${MARKER}`,
    'for f in /proc/[0-9]*/cmdline; do',
    '  t=$(tr "\\000" " " < "$f" 2>/dev/null) || continue',
    '  case "$t" in "sshd: $u@"*|"sshd-session: $u@"*) ;; *) continue ;; esac',
    '  tty=$(echo "$t" | sed "s/^[^@]*@//; s/ .*//")',
    '  case "$tty" in',
    '    pts/*) m=$(stat -c "%X %Y" "/dev/$tty" 2>/dev/null) || { echo "session $tty -"; continue; }',
    '      set -- $m; a=$1; [ "$2" -gt "$a" ] && a=$2',
    '      echo "session $tty $((now - a))" ;;',
    '    *) echo "session $tty -" ;;',
    '  esac',
    'done',
  ].join('\n');
}

/** Reads the probe's output; anything without its marker is an error, never "no sessions". */
export function parseSessionProbe(node: string, stdout: string): LearnerSession[] {
  const lines = stdout.split('\n').map((line) => line.trim());
  if (!lines.includes(MARKER)) {
    throw new UpstreamError(`node ${node}: the session probe printed no result (${stdout.slice(0, 120).trim()})`);
  }
  const seen = new Map<string, LearnerSession>();
  for (const line of lines) {
    const [word, tty, idle] = line.split(/\s+/);
    if (word !== 'session' || tty === undefined) continue;
    const idleSeconds = idle === undefined || idle === '-' ? undefined : Math.max(0, Number(idle));
    // A session's title can appear on more than one process (a re-exec): one session per tty.
    const key = tty === 'notty' ? `${tty}#${seen.size}` : tty;
    seen.set(key, {
      tty,
      ...(idleSeconds === undefined || Number.isNaN(idleSeconds) ? {} : { idleSeconds }),
    });
  }
  return [...seen.values()];
}

/**
 * The learner's SSH sessions on every node of a lab, over the operator's connection. A node that
 * cannot be asked fails the whole probe: an unreachable lab is not an idle one, and a caller must
 * never read a failure as "nobody is logged in".
 */
export async function probeLearnerSessions(
  ssh: SshRunner,
  nodes: Record<string, SshTarget>,
  learnerUser: string,
  options: { timeoutMs?: number } = {},
): Promise<NodeSessions[]> {
  const script = sessionProbeScript(learnerUser);
  return await Promise.all(
    Object.entries(nodes).map(async ([node, target]) => {
      const result = await ssh.exec(target, script, { sudo: true, timeoutMs: options.timeoutMs ?? 10_000 });
      if (result.code !== 0) {
        throw new UpstreamError(`node ${node}: the session probe exited ${result.code}: ${result.stderr.trim()}`);
      }
      return { node, sessions: parseSessionProbe(node, result.stdout) };
    }),
  );
}

/** Script rewrites shared by the importers, so an import lints clean when its source is complete. */

/**
 * Killercoda and Instruqt let a check wait as long as it likes; breakfix kills it at its deadline
 * (30 s), and a learner gets no feedback from a killed check. Imported checks get a kubectl that
 * gives up on a hung API server in time.
 */
export const KUBECTL_TIMEOUT_SHIM = 'kubectl() { command kubectl --request-timeout=10s "$@"; }';

/**
 * Both platforms let a setup or solve wait as long as its author wrote (`kubectl wait
 * --timeout=120s`); breakfix gives each script a deadline (BREAKFIX_TIMEOUT_SECONDS: 2 or 3
 * minutes on a learner's lab, several times that on an emulated one) and lint refuses a wait of a
 * fixed length. An imported break or solve that waits gets the catalog's idiom (instructor guide,
 * "Waits") and its literal waits take what is left of the deadline.
 */
export function deadlineShim(fallbackSeconds: number): string {
  return [
    "# Added on import: time the waits from this script's deadline, less 10 s to say what timed out.",
    `deadline=$((\${BREAKFIX_TIMEOUT_SECONDS:-${fallbackSeconds}} - 10))`,
    'left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }',
  ].join('\n');
}

/** `kubectl wait|rollout|delete ... --timeout=120s` and `timeout 60 bash -c` with the time left instead. */
export function timedWaits(script: string): string {
  return script
    .split('\n')
    .map((line) => {
      if (/^\s*#/.test(line)) return line;
      const timed = line.replace(/^(\s*)timeout\s+\d+(?:\.\d+)?[smh]?\s+(bash|sh)\s+-c\b/, '$1timeout "$(left)" $2 -c');
      return /\bkubectl\b/.test(timed) && /\s(wait|rollout|delete)\s/.test(timed)
        ? timed.replace(/--timeout(?:=|\s+)\d+(?:\.\d+)?[smh]?(?![\w.])/g, '--timeout="$(left)"')
        : timed;
    })
    .join('\n');
}

/**
 * An imported break's or solve's body with its waits timed from the deadline, and the idiom that
 * defines `deadline` and `left` in front when it needs them (`settles`: a solve, which ends with
 * SETTLE_SHIM).
 */
export function withDeadline(body: string, settles = false): string[] {
  const timed = timedWaits(body);
  // Without the runner (a script run by hand) a break gets 120 s, a solve 180 s, as on a learner's lab.
  return timed === body && !settles ? [body] : [deadlineShim(settles ? 180 : 120), timed];
}

/**
 * Killercoda and Instruqt solutions end when the fix is typed; breakfix runs the check right
 * after the solve (`labctl scenario test`), and a kubelet started a second ago fails the check it
 * passes twenty seconds later. Imported solves end by waiting, for what is left of their deadline,
 * until their node is Ready as the API server sees it (admin.conf on a control plane, the
 * kubelet's own credentials on a worker); past that, the check says what is still wrong.
 */
export const SETTLE_SHIM = [
  '# Added on import: wait (while the deadline lasts) until this node is Ready as the API server sees it.',
  'settle_kubeconfig=/etc/kubernetes/admin.conf',
  '[[ -f $settle_kubeconfig ]] || settle_kubeconfig=/etc/kubernetes/kubelet.conf',
  'while ((SECONDS < deadline)); do',
  `  [[ $(command kubectl --kubeconfig "$settle_kubeconfig" --request-timeout=5s get node "$(hostname)" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]] && break`,
  '  sleep 3',
  'done',
].join('\n');

/**
 * The source platform's node names as breakfix's labs name them (`node01` -> `w1`), as whole
 * words only, so `node011` and `my-node01.log` stay as they are.
 */
export function renameNodes(script: string, names: Record<string, string>): string {
  let renamed = script;
  for (const [from, to] of Object.entries(names)) {
    if (from === to) continue;
    const escaped = from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    renamed = renamed.replace(new RegExp(`(?<![\\w.-])${escaped}(?![\\w-]|\\.\\w)`, 'g'), to);
  }
  return renamed;
}

/** Neither platform has decoys: the import gets one that fails until the author writes it. */
export const DECOY_FILE = 'decoy.sh';
export const DECOY_PLACEHOLDER = [
  '#!/bin/bash',
  '# A decoy applies a plausible wrong fix (delete the broken pod, restart a service without fixing',
  '# its configuration) that the check must not accept. See docs/instructor-guide.md.',
  'echo "This scenario came without a decoy; write decoy.sh." >&2',
  'exit 1',
  '',
].join('\n');
export const DECOY_WARNING = `no decoy on the source platform: ${DECOY_FILE} fails until you write a plausible wrong fix the check must reject`;

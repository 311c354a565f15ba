/** Script rewrites shared by the importers, so an import lints clean when its source is complete. */

/**
 * Killercoda and Instruqt let a check wait as long as it likes; breakfix kills it at its deadline
 * (30 s), and a learner gets no feedback from a killed check. Imported checks get a kubectl that
 * gives up on a hung API server in time.
 */
export const KUBECTL_TIMEOUT_SHIM = 'kubectl() { command kubectl --request-timeout=10s "$@"; }';

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

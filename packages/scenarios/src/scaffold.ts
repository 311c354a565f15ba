import { join } from 'node:path';
import { InvalidInputError } from '@breakfix/core';
import { KUBERNETES_RELEASES } from '@breakfix/manifests';
import { SCENARIO_ID } from './schema.js';
import { writeScenario } from './write.js';

/**
 * A new scenario folder that already works: lint passes and `labctl scenario test` proves it, so an
 * author starts from green and changes one thing at a time. The real-cluster template stops the
 * control plane's kubelet (its decoy starts it without enabling it); the simulator template works
 * in a busybox guest.
 */
export function scaffoldScenario(catalogDir: string, id: string, options: { simulator?: boolean } = {}): string {
  if (!SCENARIO_ID.test(id))
    throw new InvalidInputError(`scenario id "${id}" must be lowercase letters, digits and dashes, 1-50 characters`);
  const simulator = options.simulator ?? false;
  const files = simulator ? SIMULATOR_FILES : KUBEADM_FILES;
  return writeScenario(join(catalogDir, id), {
    spec: {
      id,
      title: simulator ? 'A configuration file that went missing' : 'The control plane node is NotReady',
      brief: simulator
        ? 'The app on this node reads `/tmp/breakfix-app/app.conf`, and it is gone.\n\nPut it back with `mode=production`.\n'
        : 'Node `cp` reports **NotReady** and nothing new gets scheduled on it.\n\nBring it back to Ready.\n',
      difficulty: 'beginner',
      tags: simulator ? ['simulator'] : ['kubelet'],
      kubernetesVersions: KUBERNETES_RELEASES.map((r) => r.minor),
      topology: { workers: 0 },
      timeLimitMinutes: 20,
      egress: 'none',
      ...(simulator ? { simulator: true } : {}),
      hints: simulator
        ? ['What does the app expect to find, and where?', 'Recreate the file with the line `mode=production`.']
        : [
            'Which process on a node reports its status to the API server?',
            'Start and enable the kubelet with systemctl.',
          ],
      ...(simulator ? {} : { decoys: [{ run: 'decoy.sh', on: 'control-plane' }] }),
    },
    files,
  });
}

const KUBEADM_FILES: Record<string, string> = {
  'break.sh': `#!/bin/bash
# Stops and disables the kubelet on the control plane. Safe to run twice.
set -euo pipefail
systemctl disable --now kubelet
`,
  'check.sh': `#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
ok=true
if ! systemctl is-active --quiet kubelet; then
  echo "The kubelet on cp is not running."
  ok=false
fi
if ! systemctl is-enabled --quiet kubelet; then
  echo "The kubelet on cp would not start again after a reboot."
  ok=false
fi
$ok
`,
  'solve.sh': `#!/bin/bash
set -euo pipefail
systemctl enable --now kubelet
`,
  'decoy.sh': `#!/bin/bash
# A plausible wrong fix the check must not accept: the kubelet runs, but not after a reboot.
set -euo pipefail
systemctl start kubelet
`,
};

const SIMULATOR_FILES: Record<string, string> = {
  'break.sh': `#!/bin/sh
# Removes the app's configuration. Safe to run twice.
set -eu
mkdir -p /tmp/breakfix-app
rm -f /tmp/breakfix-app/app.conf
`,
  'check.sh': `#!/bin/sh
# Exit 0 when solved; every line printed is feedback for the learner.
conf=/tmp/breakfix-app/app.conf
if [ ! -f "$conf" ]; then
  echo "$conf does not exist."
  exit 1
fi
if ! grep -qx 'mode=production' "$conf"; then
  echo "$conf exists but has no line mode=production."
  exit 1
fi
`,
  'solve.sh': `#!/bin/sh
set -eu
mkdir -p /tmp/breakfix-app
echo 'mode=production' > /tmp/breakfix-app/app.conf
`,
};

#!/bin/bash
# Wrong fix: recreate billing from its manifests. The objects look the same, but they are new
# ones (new UIDs, no history): nothing came back from the snapshot.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl apply -f /var/lib/breakfix/etcd-snapshot-restore/billing.yaml >/dev/null

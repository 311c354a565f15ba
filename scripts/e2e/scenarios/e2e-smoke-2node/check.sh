#!/bin/bash
# Exit 0 when every node is Ready and the break's marker is there.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
[[ -f /var/lib/breakfix/e2e-break ]] || { echo "the break never ran"; exit 1; }
not_ready=$(kubectl --request-timeout=20s get nodes --no-headers | awk '$2 != "Ready" { print $1 }')
[[ -z $not_ready ]] || { echo "not Ready: $not_ready"; exit 1; }

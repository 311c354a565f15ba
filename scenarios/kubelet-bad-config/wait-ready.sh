#!/bin/bash
# Waits until w1 is Ready again after the fix on the node.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
kubectl wait --for=condition=Ready node/w1 --timeout=150s

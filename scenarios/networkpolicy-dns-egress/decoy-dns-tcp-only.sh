#!/bin/bash
# Wrong fix: allow DNS over TCP only. Resolvers ask over UDP first, so the client still cannot
# resolve web.
set -euo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
# Waits share this script's deadline, less 10 s to say what timed out (instructor guide, "Waits").
deadline=$((${BREAKFIX_TIMEOUT_SECONDS:-120} - 10))
left() { echo "$((deadline - SECONDS > 1 ? deadline - SECONDS : 1))s"; }
applied=$(date -u +%FT%TZ)
kubectl apply -f - >/dev/null <<'YAML'
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-dns-tcp, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}
          podSelector: {matchLabels: {k8s-app: kube-dns}}
      ports: [{protocol: TCP, port: 53}]
YAML
# The check looks once the client has tried (and failed) a lookup under the new policy.
timeout "$(left)" bash -c "until kubectl -n shop logs deploy/client --since-time=$applied 2>/dev/null | grep -q 'cannot resolve'; do sleep 3; done"

#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
IFS='|' read -r dns api < <(kubectl --request-timeout=5s get svc -A -o \
  jsonpath='{range .items[?(@.metadata.name=="kube-dns")]}{.spec.clusterIP}{end}|{range .items[?(@.metadata.name=="kubernetes")]}{.spec.clusterIP}{end}{"\n"}' 2>/dev/null)
if [[ -z ${dns:-} || -z ${api:-} ]]; then
  problem "The API server does not answer, or the kube-dns Service is gone; give it a minute after a restart."
  exit 1
fi
available=$(kubectl --request-timeout=5s -n kube-system get deploy coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null)
[[ ${available:-0} -ge 2 ]] || problem "Deployment coredns has ${available:-0} of 2 pods available."
answer=$(dig +short +time=2 +tries=2 @"$dns" kubernetes.default.svc.cluster.local A 2>/dev/null | sed -n 1p)
[[ $answer == "$api" ]] || problem "kube-dns ($dns) answers kubernetes.default.svc.cluster.local with '${answer:-nothing}', not $api."
# What the next CoreDNS pod would get: the Corefile's upstream, or the kubelet's resolv.conf.
corefile=$(kubectl --request-timeout=5s -n kube-system get cm coredns -o jsonpath='{.data.Corefile}' 2>/dev/null)
if grep -Eq '^\s*forward \. /etc/resolv.conf' <<<"$corefile"; then
  resolv=$(awk '$1 == "resolvConf:" {print $2}' /var/lib/kubelet/config.yaml)
  if [[ -n $resolv ]] && grep -Eq '^nameserver (127\.|::1)' "$resolv" 2>/dev/null; then
    problem "The kubelet still hands pods $resolv, whose nameserver is a loopback address: the next CoreDNS pod would loop again."
  fi
fi
exit $((problems > 0))

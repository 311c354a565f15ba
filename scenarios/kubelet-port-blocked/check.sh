#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
ip=$(kubectl --request-timeout=5s get node cp -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}' 2>/dev/null)
if [[ -z $ip ]]; then
  problem "The API server does not answer (or node cp is gone); give it a minute after a restart."
  exit 1
fi
if ! timeout 5 bash -c "exec 3<>/dev/tcp/$ip/10250" 2>/dev/null; then
  problem "Nothing answers on cp's kubelet port ($ip:10250) within 5 s: the API server cannot reach the kubelet."
elif ! timeout 20 kubectl --request-timeout=15s -n kube-system logs kube-apiserver-cp --tail=1 >/dev/null 2>&1; then
  problem "kubectl logs still fails for kube-apiserver-cp."
fi
if nft list table inet hardening >/dev/null 2>&1; then
  grep -q 'dport { 111, 2049 }' <<<"$(nft list table inet hardening)" ||
    problem "The rest of the hardening (the NFS and portmapper rule) is gone from the live firewall; keep it."
fi
if systemctl is-enabled --quiet node-hardening.service 2>/dev/null; then
  if grep -Eq '^[^#]*\b10250\b.*drop' /etc/nftables-hardening.conf 2>/dev/null; then
    problem "node-hardening.service still loads a rule dropping 10250 at boot: the fix would not survive a reboot."
  fi
  grep -Eq '^[^#]*dport \{ 111, 2049 \}' /etc/nftables-hardening.conf 2>/dev/null ||
    problem "The NFS and portmapper rule is gone from /etc/nftables-hardening.conf; keep the rest of the hardening."
else
  problem "node-hardening.service is no longer enabled: the whole hardening is gone, not just the rule that breaks the kubelet."
fi
exit $((problems > 0))

#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
export KUBECONFIG=/etc/kubernetes/admin.conf
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
IFS='|' read -r probe updated available unavailable < <(kubectl --request-timeout=5s -n payments get deploy ledger -o \
  jsonpath='{.spec.template.spec.containers[0].livenessProbe}|{.status.updatedReplicas}|{.status.availableReplicas}|{.status.unavailableReplicas}{"\n"}' 2>/dev/null)
if [[ -z ${probe:-} && -z ${updated:-} ]]; then
  echo "Deployment ledger in payments is gone (or the API server does not answer)."
  exit 1
fi
[[ -n ${probe:-} ]] || problem "ledger has no liveness probe any more; keep one, pointed at something the program answers."
# What the kubelet probes, per pod: name, IP, kind, port (a named port resolved), path, restarts.
pods=$(kubectl --request-timeout=5s -n payments get pods -l app=ledger -o json 2>/dev/null | jq -r '
  .items[] | select(.metadata.deletionTimestamp == null) | .spec.containers[0] as $c | ($c.livenessProbe // {}) as $p |
  (if $p.httpGet then "http" elif $p.tcpSocket then "tcp" else "none" end) as $kind |
  (($p.httpGet // $p.tcpSocket // {}).port // "") as $port |
  (if ($port | type) == "string" then ([$c.ports[]? | select(.name == $port) | .containerPort][0] // $port) else $port end) as $num |
  [.metadata.name, (.status.podIP // "-"), $kind, ($num | tostring), ($p.httpGet.path // "/"),
   ((.status.containerStatuses[0].restartCount // 0) | tostring)] | @tsv')
while IFS=$'\t' read -r name ip kind port path restarts; do
  [[ -n $name ]] || continue
  if [[ $ip == - ]]; then
    problem "Pod $name has no IP yet."
  elif [[ $kind == http ]]; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$ip:$port$path")
    [[ $code =~ ^[23] ]] ||
      problem "Pod $name: its liveness probe GET http://$ip:$port$path gets HTTP ${code/#000/no answer}, so the kubelet kills it ($restarts restarts)."
  elif [[ $kind == tcp ]]; then
    timeout 3 bash -c "exec 3<>/dev/tcp/$ip/$port" 2>/dev/null ||
      problem "Pod $name: its liveness probe connects to port $port, where nothing listens ($restarts restarts)."
  fi
done <<<"$pods"
if [[ ${updated:-0} -lt 2 || ${available:-0} -lt 2 || ${unavailable:-0} -gt 0 ]]; then
  problem "Deployment ledger is not fully rolled out: ${updated:-0} updated, ${available:-0} available of 2."
fi
exit $((problems > 0))

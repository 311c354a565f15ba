#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
config=/etc/containerd/config.toml
running=$(crictl info 2>/dev/null | jq -r '.config.sandboxImage // empty' 2>/dev/null)
configured=$(sed -nE 's/^\s*sandbox_image\s*=\s*"([^"]*)".*/\1/p' "$config" | sed -n 1p)
if [[ -z $running ]]; then
  problem "containerd on w1 does not answer crictl info."
elif ! crictl inspecti "$running" >/dev/null 2>&1; then
  problem "containerd on w1 creates every pod sandbox from $running, which w1 does not have and cannot pull."
fi
if [[ -n $configured && $configured != "$running" ]] && ! crictl inspecti "$configured" >/dev/null 2>&1; then
  problem "$config names sandbox_image $configured, which w1 does not have: the next containerd restart breaks new pods again."
fi
exit $((problems > 0))

#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
problem() { echo "$*"; problems=$((problems + 1)); }
now=$(sysctl -n net.ipv4.ip_forward)
[[ $now == 1 ]] || problem "net.ipv4.ip_forward is $now on $(hostname): the kernel drops pod traffic it should forward."
for file in /etc/sysctl.conf /etc/sysctl.d/*.conf; do
  [[ -f $file ]] || continue
  if grep -Eq '^\s*net\.ipv4\.ip_forward\s*=\s*0' "$file"; then
    problem "$file would turn IP forwarding off again at the next boot."
  fi
done
exit $((problems > 0))

#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
set -uo pipefail
problems=0
systemctl is-active --quiet kubelet || { echo "The kubelet on w1 is not running."; problems=1; }
systemctl is-enabled --quiet kubelet || { echo "The kubelet on w1 is not enabled: it would stay down after a reboot."; problems=1; }
exit "$problems"

#!/bin/bash
# Exit 0 when solved; every line printed is feedback for the learner.
if [[ ! -x /opt/cni/bin/flannel ]]; then
  echo "/opt/cni/bin/flannel is missing on w1: containerd cannot set up pod networking there."
  exit 1
fi

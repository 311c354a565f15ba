#!/bin/bash
# The "disk cleanup": removes flannel's CNI plugin binary from this node.
set -euo pipefail
rm -f /opt/cni/bin/flannel

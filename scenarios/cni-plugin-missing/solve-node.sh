#!/bin/bash
# The node image keeps the plugin in /usr/lib/cni (Debian's place) and links it into /opt/cni/bin;
# the lab's flannel DaemonSet does not install it (images/recipe/cni/flannel.yaml), so put the link back.
set -euo pipefail
ln -sf /usr/lib/cni/flannel /opt/cni/bin/flannel

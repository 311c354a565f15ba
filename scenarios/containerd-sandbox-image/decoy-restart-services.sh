#!/bin/bash
# Wrong fix: restart containerd and the kubelet on w1 with the configuration unchanged.
set -euo pipefail
systemctl restart containerd kubelet

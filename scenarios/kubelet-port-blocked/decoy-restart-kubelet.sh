#!/bin/bash
# Wrong fix: restart the kubelet. It was never the kubelet's fault.
set -euo pipefail
systemctl restart kubelet

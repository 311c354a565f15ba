#!/bin/bash
# Breaks nothing: proves the break ran as root on the control plane before the learner got access.
set -euo pipefail
install -d -m 0755 /var/lib/breakfix
date -u +%FT%TZ >/var/lib/breakfix/e2e-break

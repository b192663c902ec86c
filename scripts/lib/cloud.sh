# Sourced by scripts/tempest-*.sh (after `here` = the checkout and `set -euo pipefail`): what the
# scripts that run Tempest against a fresh `monostack up` share.
#
#   find_harness          sets $harness: $MONOSTACK_TEMPEST_SH, ../shared beside the checkout or /work/shared
#   free_ports VAR...     exports each VAR as a distinct free loopback port (scripts/lib/free-port.mjs)
#   start_cloud WORK      starts `monostack up` ($MONOSTACK_BIN, default bin/monostack.js, i.e. dist/)
#                         logging to WORK/up.log, sets $up_pid, waits for "monostack ready" and loads
#                         WORK/state/openrc; the caller's EXIT trap stops $up_pid
#   network_setup         sets $net_exts (the aliases GET /v2.0/extensions lists, for tempest's
#                         api_extensions) and $public_id (an external network "public" with the
#                         subnet 172.24.4.0/24, devstack's, for router gateways and floating IPs)

find_harness() {
  harness=${MONOSTACK_TEMPEST_SH:-}
  local c
  for c in "$here/../shared/conformance/tempest.sh" /work/shared/conformance/tempest.sh; do
    [ -z "$harness" ] && [ -x "$c" ] && harness=$c
  done
  [ -n "$harness" ] || { echo "tempest.sh not found (set MONOSTACK_TEMPEST_SH)" >&2; exit 2; }
}

free_ports() {
  local ports p
  ports=$(node "$here/scripts/lib/free-port.mjs" $#) || { echo "no free ports" >&2; exit 2; }
  for p in $ports; do export "$1=$p"; shift; done
}

start_cloud() {
  local work=$1
  node "${MONOSTACK_BIN:-$here/bin/monostack.js}" up > "$work/up.log" 2>&1 &
  up_pid=$!
  for _ in $(seq 1 240); do
    grep -q 'monostack ready' "$work/up.log" && break
    kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log"; exit 1; }
    sleep 0.5
  done
  grep -q 'monostack ready' "$work/up.log" || { cat "$work/up.log"; exit 1; }
  set -a; . "$work/state/openrc"; set +a
}

network_setup() {
  local token
  token=$(openstack token issue -f value -c id)
  net_exts=$(curl -sf -H "X-Auth-Token: $token" "http://127.0.0.1:$MONOSTACK_NETWORK_PORT/v2.0/extensions" \
    | /usr/bin/python3 -c 'import json,sys; print(",".join(e["alias"] for e in json.load(sys.stdin)["extensions"]))')
  public_id=$(openstack network create --external public -f value -c id)
  openstack subnet create --network public --subnet-range 172.24.4.0/24 --no-dhcp public-subnet >/dev/null
}

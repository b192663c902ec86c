#!/usr/bin/env bash
# Runs Tempest's network API tests (tempest.api.network) against a fresh `monostack up` with
# identity and network (and placement + compute on the fake driver: the port binding tests take a
# host name from the hypervisor list), the way docs/conformance.md reports them:
#
#   scripts/tempest-network.sh [--regex RE] [--concurrency N] [--results FILE] [-- extra tempest.sh args]
#
# tempest.conf declares exactly the API extensions the network service implements (read from its
# GET /v2.0/extensions), an external "public" network (172.24.4.0/24) serves router gateways and
# floating IPs (public_network_id), and project networks are VXLAN. Everything runs on free loopback ports in a temporary data
# directory, removed at the end.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
regex='^tempest\.api\.network\.'
concurrency=2
results=/tmp/tempest-network.txt
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --regex) regex=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
harness=${MONOSTACK_TEMPEST_SH:-}
for c in "$here/../shared/conformance/tempest.sh" /work/shared/conformance/tempest.sh; do [ -z "$harness" ] && [ -x "$c" ] && harness=$c; done
[ -n "$harness" ] || { echo "tempest.sh not found (set MONOSTACK_TEMPEST_SH)" >&2; exit 2; }

free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
work=$(mktemp -d /tmp/monostack-tempest-net-XXXXXX)
export MONOSTACK_DEFAULT_DATA_DIR=$work/state MONOSTACK_DEFAULT_ENABLED_SERVICES=identity,placement,network,compute
export MONOSTACK_IDENTITY_PORT=$(free_port) MONOSTACK_IDENTITY_ADMIN_PORT=$(free_port) MONOSTACK_NETWORK_PORT=$(free_port)
export MONOSTACK_PLACEMENT_PORT=$(free_port) MONOSTACK_COMPUTE_PORT=$(free_port) MONOSTACK_COMPUTE_METADATA_PORT=$(free_port) MONOSTACK_COMPUTE_NOVNCPROXY_PORT=$(free_port)
export MONOSTACK_COMPUTE_COMPUTE_DRIVER=fake
export MONOSTACK_IDENTITY_ADMIN_PASSWORD=tempest-admin
# The API is under test, not the data plane: the agent runs with the noop driver (no bridges per test network).
export MONOSTACK_NETWORK_DATAPLANE=${MONOSTACK_NETWORK_DATAPLANE:-noop}
node "${MONOSTACK_BIN:-$here/bin/monostack.js}" up > "$work/up.log" 2>&1 &
up_pid=$!
cleanup() {
  kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 240); do grep -q 'monostack ready' "$work/up.log" && break; kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log"; exit 1; }; sleep 0.5; done
grep -q 'monostack ready' "$work/up.log" || { cat "$work/up.log"; exit 1; }
set -a; . "$work/state/openrc"; set +a

# The extensions the service really implements, as tempest's api_extensions list.
token=$(openstack token issue -f value -c id)
exts=$(curl -sf -H "X-Auth-Token: $token" "http://127.0.0.1:$MONOSTACK_NETWORK_PORT/v2.0/extensions" \
  | /usr/bin/python3 -c 'import json,sys; print(",".join(e["alias"] for e in json.load(sys.stdin)["extensions"]))')

# The external network for router gateways and floating IPs (as devstack's "public").
public_id=$(openstack network create --external public -f value -c id)
openstack subnet create --network public --subnet-range 172.24.4.0/24 --no-dhcp public-subnet >/dev/null

"$harness" --services identity,network,compute --regex "$regex" --concurrency "$concurrency" --results "$results" \
  --set network-feature-enabled.api_extensions="$exts" \
  --set network-feature-enabled.ipv6=true --set network-feature-enabled.ipv6_subnet_attributes=true \
  --set network.project_network_cidr=10.100.0.0/16 --set network.project_network_mask_bits=28 \
  --set network.project_network_v6_cidr=2001:db8::/48 --set network.project_network_v6_mask_bits=64 \
  --set network.project_networks_reachable=false --set network.shared_physical_network=false \
  --set network.public_network_id="$public_id" --set network.floating_network_name=public \
  --always-zero "${extra[@]}"

#!/usr/bin/env bash
# Runs Tempest's network API tests (tempest.api.network) against a fresh `monostack up` with
# identity and network (and placement + compute on the fake driver: the port binding tests take a
# host name from the hypervisor list), the way docs/conformance.md reports them:
#
#   scripts/tempest-network.sh [--regex RE] [--concurrency N] [--results FILE] [-- extra tempest.sh args]
#
# tempest.conf declares exactly the API extensions the network service implements (read from its
# GET /v2.0/extensions), an external "public" network (172.24.4.0/24) serves router gateways and
# floating IPs (public_network_id), and project networks are VXLAN. Everything runs on free loopback
# ports in a temporary data directory, removed at the end. MONOSTACK_BIN chooses the build to run
# (default bin/monostack.js, i.e. dist/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/lib/cloud.sh"
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
find_harness

work=$(mktemp -d /tmp/monostack-tempest-net-XXXXXX)
up_pid=
cleanup() {
  if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
export MONOSTACK_DEFAULT_DATA_DIR=$work/state MONOSTACK_DEFAULT_ENABLED_SERVICES=identity,placement,network,compute
free_ports MONOSTACK_IDENTITY_PORT MONOSTACK_IDENTITY_ADMIN_PORT MONOSTACK_NETWORK_PORT MONOSTACK_PLACEMENT_PORT \
  MONOSTACK_COMPUTE_PORT MONOSTACK_COMPUTE_METADATA_PORT MONOSTACK_COMPUTE_NOVNCPROXY_PORT
export MONOSTACK_COMPUTE_COMPUTE_DRIVER=fake
export MONOSTACK_IDENTITY_ADMIN_PASSWORD=tempest-admin
# The API is under test, not the data plane: the agent runs with the noop driver (no bridges per test network).
export MONOSTACK_NETWORK_DATAPLANE=${MONOSTACK_NETWORK_DATAPLANE:-noop}
start_cloud "$work"
network_setup

"$harness" --services identity,network,compute --regex "$regex" --concurrency "$concurrency" --results "$results" \
  --set network-feature-enabled.api_extensions="$net_exts" \
  --set network-feature-enabled.ipv6=true --set network-feature-enabled.ipv6_subnet_attributes=true \
  --set network.project_network_cidr=10.100.0.0/16 --set network.project_network_mask_bits=28 \
  --set network.project_network_v6_cidr=2001:db8::/48 --set network.project_network_v6_mask_bits=64 \
  --set network.project_networks_reachable=false --set network.shared_physical_network=false \
  --set network.public_network_id="$public_id" --set network.floating_network_name=public \
  --always-zero "${extra[@]}"

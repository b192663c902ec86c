#!/usr/bin/env bash
# Runs Tempest's compute API tests against a fresh `monostack up` (identity, image, placement,
# compute), the way docs/conformance.md reports them:
#
#   scripts/tempest-compute.sh [--driver qemu|fake] [--with-network] [--regex RE] [--concurrency N]
#                              [--results FILE] [-- extra tempest.sh args]
#
# It builds the test guest image (scripts/build-test-images.sh), uploads it twice (image_ref and
# image_ref_alt), creates two flavors (flavor_ref 1 = m1.tiny-like, flavor_ref_alt 2) and runs
# ../shared/conformance/tempest.sh with those set and the features monostack implements enabled.
#
# --with-network adds the network service (Neutron; its agent on the noop data plane: the APIs are
# under test, not bridges per test network). Tempest then gives each test project its own network,
# subnet and router (create_isolated_networks) with the gateway on an external "public" network
# (172.24.4.0/24, public_network_id), which also serves the floating IPs; api_extensions = what the
# service's GET /v2.0/extensions lists. Nova's network proxy APIs (security groups, floating IPs,
# os-networks) need it.
#
# Everything runs on free loopback ports in a temporary data directory, removed at the end.
# MONOSTACK_BIN chooses the build to run (default bin/monostack.js, i.e. dist/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$here/scripts/lib/cloud.sh"
driver=qemu
with_network=0
regex='^tempest\.api\.compute\.'
concurrency=2
results=/tmp/tempest-compute.txt
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --driver) driver=$2; shift 2 ;;
    --with-network) with_network=1; shift ;;
    --regex) regex=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --results) results=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
find_harness

work=$(mktemp -d /tmp/monostack-tempest-XXXXXX)
up_pid=
cleanup() {
  if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true; fi
  # Guests outlive `up` by design; this run's must not.
  for p in $(pgrep -f "qemu-system.*$work" || true); do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
services=identity,image,placement,compute
free_ports MONOSTACK_IDENTITY_PORT MONOSTACK_IDENTITY_ADMIN_PORT MONOSTACK_IMAGE_PORT MONOSTACK_PLACEMENT_PORT \
  MONOSTACK_COMPUTE_PORT MONOSTACK_COMPUTE_METADATA_PORT MONOSTACK_COMPUTE_NOVNCPROXY_PORT
if [ "$with_network" = 1 ]; then
  services=identity,image,placement,network,compute
  free_ports MONOSTACK_NETWORK_PORT
  export MONOSTACK_NETWORK_DATAPLANE=${MONOSTACK_NETWORK_DATAPLANE:-noop}
fi
export MONOSTACK_DEFAULT_DATA_DIR=$work/state MONOSTACK_DEFAULT_ENABLED_SERVICES=$services
export MONOSTACK_COMPUTE_COMPUTE_DRIVER=$driver MONOSTACK_IDENTITY_ADMIN_PASSWORD=tempest-admin MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT=${MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT:-5}
start_cloud "$work"

[ -f "$here/.tmp/images/disk.qcow2" ] || bash "$here/scripts/build-test-images.sh" "$here/.tmp/images" >&2
img=$(openstack image create tempest-guest --file "$here/.tmp/images/disk.qcow2" --disk-format qcow2 --container-format bare --public -f value -c id)
img_alt=$(openstack image create tempest-guest-alt --file "$here/.tmp/images/disk.qcow2" --disk-format qcow2 --container-format bare --public -f value -c id)
openstack flavor create --id 1 --ram 256 --disk 1 --vcpus 1 m1.tiny >/dev/null
openstack flavor create --id 2 --ram 384 --disk 2 --vcpus 1 m1.small >/dev/null

net_args=()
if [ "$with_network" = 1 ]; then
  network_setup
  net_args=(--set network-feature-enabled.api_extensions="$net_exts" --set network.public_network_id="$public_id"
    --set network.floating_network_name=public --set network.project_network_cidr=10.100.0.0/16
    --set network.project_network_mask_bits=28 --set network.project_networks_reachable=false)
fi

"$harness" --services "$services" --regex "$regex" --concurrency "$concurrency" --results "$results" \
  --set compute.image_ref="$img" --set compute.image_ref_alt="$img_alt" \
  --set compute.flavor_ref=1 --set compute.flavor_ref_alt=2 \
  --set compute-feature-enabled.resize=true --set compute-feature-enabled.pause=true --set compute-feature-enabled.suspend=true \
  --set compute-feature-enabled.shelve=true --set compute-feature-enabled.rescue=true --set compute-feature-enabled.console_output=true \
  --set compute-feature-enabled.vnc_console=true --set compute-feature-enabled.snapshot=true --set compute-feature-enabled.change_password=false \
  --set compute-feature-enabled.interface_attach=false --set compute-feature-enabled.live_migration=false --set compute-feature-enabled.cold_migration=false \
  --set compute-feature-enabled.personality=false --set compute-feature-enabled.config_drive=false --set compute-feature-enabled.metadata_service=false \
  "${net_args[@]}" --set compute.build_timeout=300 --always-zero "${extra[@]}"

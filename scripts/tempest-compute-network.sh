#!/usr/bin/env bash
# Runs Tempest's compute API tests with the network service (Neutron) in the cloud, as
# scripts/tempest-compute.sh does without it: identity, image, placement, network, compute. Tempest
# then gives each test project its own network, subnet and router (create_isolated_networks) with
# the gateway on an external "public" network (172.24.4.0/24, public_network_id), which serves the
# floating IPs. Default selection: the compute tests of Nova's network proxy APIs.
#
#   scripts/tempest-compute-network.sh [--driver qemu|fake] [--regex RE] [--concurrency N] [--results FILE] [-- extra tempest.sh args]
#
# It builds the test guest image (scripts/build-test-images.sh), uploads it twice (image_ref and
# image_ref_alt), creates two flavors (flavor_ref 1 = m1.tiny-like, flavor_ref_alt 2) and runs
# ../shared/conformance/tempest.sh with those set and the features monostack implements enabled.
# Everything runs on free loopback ports in a temporary data directory, removed at the end.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
driver=fake
regex='^tempest\.api\.compute\.(security_groups|floating_ips|test_networks|test_tenant_networks|admin\.test_networks)'
concurrency=2
results=/tmp/tempest-compute-network.txt
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --driver) driver=$2; shift 2 ;;
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
work=$(mktemp -d /tmp/monostack-tempest-XXXXXX)
export MONOSTACK_DEFAULT_DATA_DIR=$work/state MONOSTACK_DEFAULT_ENABLED_SERVICES=identity,image,placement,network,compute
export MONOSTACK_IDENTITY_PORT=$(free_port) MONOSTACK_IDENTITY_ADMIN_PORT=$(free_port) MONOSTACK_IMAGE_PORT=$(free_port)
export MONOSTACK_PLACEMENT_PORT=$(free_port) MONOSTACK_COMPUTE_PORT=$(free_port) MONOSTACK_COMPUTE_METADATA_PORT=$(free_port) MONOSTACK_COMPUTE_NOVNCPROXY_PORT=$(free_port)
export MONOSTACK_NETWORK_PORT=$(free_port)
# The APIs are under test, not the data plane: no bridges or namespaces per test network.
export MONOSTACK_NETWORK_DATAPLANE=${MONOSTACK_NETWORK_DATAPLANE:-noop}
export MONOSTACK_COMPUTE_COMPUTE_DRIVER=$driver MONOSTACK_IDENTITY_ADMIN_PASSWORD=tempest-admin MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT=${MONOSTACK_COMPUTE_SHUTDOWN_TIMEOUT:-5}
node "${MONOSTACK_BIN:-$here/bin/monostack.js}" up > "$work/up.log" 2>&1 &
up_pid=$!
cleanup() {
  kill "$up_pid" 2>/dev/null || true; wait "$up_pid" 2>/dev/null || true
  # Guests outlive `up` by design; this run's must not.
  for p in $(pgrep -f "qemu-system.*$work" || true); do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 240); do grep -q 'monostack ready' "$work/up.log" && break; kill -0 "$up_pid" 2>/dev/null || { cat "$work/up.log"; exit 1; }; sleep 0.5; done
grep -q 'monostack ready' "$work/up.log" || { cat "$work/up.log"; exit 1; }
set -a; . "$work/state/openrc"; set +a

[ -f "$here/.tmp/images/disk.qcow2" ] || bash "$here/scripts/build-test-images.sh" "$here/.tmp/images" >&2
img=$(openstack image create tempest-guest --file "$here/.tmp/images/disk.qcow2" --disk-format qcow2 --container-format bare --public -f value -c id)
img_alt=$(openstack image create tempest-guest-alt --file "$here/.tmp/images/disk.qcow2" --disk-format qcow2 --container-format bare --public -f value -c id)
openstack flavor create --id 1 --ram 256 --disk 1 --vcpus 1 m1.tiny >/dev/null
openstack flavor create --id 2 --ram 384 --disk 2 --vcpus 1 m1.small >/dev/null

# The network service's extensions as tempest's api_extensions; the external network (devstack's "public").
token=$(openstack token issue -f value -c id)
exts=$(curl -sf -H "X-Auth-Token: $token" "http://127.0.0.1:$MONOSTACK_NETWORK_PORT/v2.0/extensions" \
  | /usr/bin/python3 -c 'import json,sys; print(",".join(e["alias"] for e in json.load(sys.stdin)["extensions"]))')
public_id=$(openstack network create --external public -f value -c id)
openstack subnet create --network public --subnet-range 172.24.4.0/24 --no-dhcp public-subnet >/dev/null

"$harness" --services identity,image,compute,placement,network --regex "$regex" --concurrency "$concurrency" --results "$results" \
  --set compute.image_ref="$img" --set compute.image_ref_alt="$img_alt" \
  --set compute.flavor_ref=1 --set compute.flavor_ref_alt=2 \
  --set compute-feature-enabled.resize=true --set compute-feature-enabled.pause=true --set compute-feature-enabled.suspend=true \
  --set compute-feature-enabled.shelve=true --set compute-feature-enabled.rescue=true --set compute-feature-enabled.console_output=true \
  --set compute-feature-enabled.vnc_console=true --set compute-feature-enabled.snapshot=true --set compute-feature-enabled.change_password=false \
  --set compute-feature-enabled.interface_attach=false --set compute-feature-enabled.live_migration=false --set compute-feature-enabled.cold_migration=false \
  --set compute-feature-enabled.personality=false --set compute-feature-enabled.config_drive=false --set compute-feature-enabled.metadata_service=false \
  --set network-feature-enabled.api_extensions="$exts" --set network.public_network_id="$public_id" --set network.floating_network_name=public \
  --set network.project_network_cidr=10.100.0.0/16 --set network.project_network_mask_bits=28 --set network.project_networks_reachable=false \
  --set compute.build_timeout=300 --always-zero "${extra[@]}"

// Conformance in CI: a subset of Tempest's network API tests (Debian's package) against a fresh
// `monostack up` with identity, placement, network and compute (fake driver), through
// scripts/tempest-network.sh (the same script docs/conformance.md's full runs use). The subset covers
// each area once — networks, subnets, ports (bindings, address pairs, DHCP options), security groups,
// routers (interfaces, extra routes, gateways), floating IPs, external networks, quotas, agents,
// extensions, tags, subnet pools, API discovery, an IPv6 port and an IPv6 rule, and negative tests
// of most — and leaves out most tests that create subnets: Debian's Tempest sleeps 10 s before every
// subnet delete (subnets_client.delete_subnet, even of a subnet that does not exist), which is most of
// the full suite's 11 minutes; so are extra routes (40 s) and the DHCPv6 class here.
// Every selected test must pass or skip.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot, tempestHarness } from '../../common/testing/process.js';

const root = projectRoot(import.meta.url);
const HARNESS = tempestHarness();
// The cloud this test starts is the build it was compiled into (dist/ under npm test, a helper's
// own --outDir otherwise), not whatever bin/monostack.js points at.
const BIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** module.Class (under tempest.api.network) -> test methods. */
export const SMOKE_TESTS: Record<string, string[]> = {
  'test_networks.NetworksTest': ['test_create_update_delete_network_subnet', 'test_create_update_network_description',
    'test_external_network_visibility', 'test_list_networks', 'test_list_networks_fields', 'test_list_subnets',
    'test_show_network', 'test_show_subnet', 'test_show_subnet_fields'],
  'test_networks.BulkNetworkOpsTest': ['test_bulk_create_delete_network'],
  'test_networks_negative.NetworksNegativeTestJSON': ['test_show_non_existent_network', 'test_create_port_on_non_existent_network',
    'test_update_non_existent_port', 'test_show_non_existent_subnet'],
  'test_ports.PortsTestJSON': ['test_create_update_delete_port', 'test_create_bulk_port', 'test_show_port', 'test_show_port_fields',
    'test_list_ports', 'test_create_show_delete_port_user_defined_mac', 'test_port_list_filter_by_router_id'],
  'admin.test_ports.PortsAdminExtendedAttrsTestJSON': ['test_create_port_binding_ext_attr', 'test_show_port_binding_ext_attr'],
  'test_allowed_address_pair.AllowedAddressPairTestJSON': ['test_create_list_port_with_address_pair', 'test_update_port_with_address_pair'],
  'test_extra_dhcp_options.ExtraDHCPOptionsTestJSON': ['test_create_list_port_with_extra_dhcp_options'],
  'test_ports.PortsIpV6TestJSON': ['test_create_update_delete_port'],
  'test_security_groups.SecGroupTest': ['test_create_list_update_show_delete_security_group', 'test_create_show_delete_security_group_rule',
    'test_create_security_group_rule_with_remote_group_id', 'test_create_security_group_rule_with_icmp_type_code', 'test_list_security_groups'],
  'test_security_groups_negative.NegativeSecGroupTest': ['test_create_duplicate_security_group_rule_fails',
    'test_create_security_group_rule_with_bad_protocol', 'test_create_additional_default_security_group_fails',
    'test_show_non_existent_security_group'],
  'test_security_groups.SecGroupIPv6Test': ['test_create_security_group_rule_with_remote_ip_prefix'],
  'test_routers.RoutersTest': ['test_create_show_list_update_delete_router', 'test_add_remove_router_interface_with_subnet_id',
    'test_update_router_admin_state'],
  'test_routers_negative.RoutersNegativeTest': ['test_router_add_gateway_net_not_external_returns_400',
    'test_router_remove_interface_in_use_returns_409', 'test_show_non_existent_router_returns_404'],
  'admin.test_routers.RoutersAdminTest': ['test_create_router_with_default_snat_value', 'test_update_router_set_gateway'],
  'test_floating_ips.FloatingIPTestJSON': ['test_create_list_show_update_delete_floating_ip', 'test_floating_ip_delete_port'],
  'test_floating_ips_negative.FloatingIPNegativeTestJSON': ['test_create_floatingip_in_private_network'],
  'admin.test_external_network_extension.ExternalNetworksTestJSON': ['test_create_external_network', 'test_list_external_networks'],
  'admin.test_quotas.QuotasTest': ['test_quotas', 'test_show_quota_details'],
  'admin.test_negative_quotas.QuotasNegativeTest': ['test_network_quota_exceeding'],
  'test_agent_management_negative.AgentManagementNegativeTest': ['test_list_agents_non_admin'],
  'test_extensions.ExtensionsTestJSON': ['test_list_show_extensions'],
  'test_service_providers.ServiceProvidersTest': ['test_service_providers_list'],
  'test_subnetpools_extensions.SubnetPoolsTestJSON': ['test_create_list_show_update_delete_subnetpools'],
  'test_tags.TagsExtTest': ['test_create_check_list_and_delete_tags'],
  'test_versions.NetworksApiDiscovery': ['test_api_version_resources', 'test_show_api_v2_details'],
};

const esc = (s: string) => s.replace(/\./g, '\\.');
/** Test ids look like tempest.api.network.test_ports.PortsTestJSON.test_show_port[id-...,smoke]. */
export const SMOKE = '^tempest\\.api\\.network\\.(' + Object.entries(SMOKE_TESTS)
  .map(([cls, tests]) => `${esc(cls)}\\.(${tests.join('|')})\\[`).join('|') + ')';
export const SMOKE_COUNT = Object.values(SMOKE_TESTS).reduce((n, t) => n + t.length, 0);

test('Tempest network API smoke subset passes against monostack up', { timeout: 900_000 }, async (t) => {
  if (!HARNESS) return t.skip('conformance harness tempest.sh not found (set MONOSTACK_TEMPEST_SH)');
  if (!existsSync('/usr/bin/tempest')) return t.skip('tempest not installed (apt-get install tempest)');
  if (!existsSync(BIN)) return t.skip(`${BIN} not built`);
  const dir = mkdtempSync(join(tmpdir(), 'monostack-network-tempest-'));
  const results = join(dir, 'results.txt');
  try {
    const out = await new Promise<string>((res) => {
      // The Tempest workspace (tempest.conf, tempest.log) inside this test's directory, removed with it.
      execFile('bash', [join(root, 'scripts', 'tempest-network.sh'), '--regex', SMOKE, '--results', results, '--', '--workspace', join(dir, 'ws')], {
        env: { ...process.env, MONOSTACK_TEMPEST_SH: HARNESS, MONOSTACK_BIN: BIN }, timeout: 840_000, maxBuffer: 64 * 1024 * 1024,
      }, (_e, stdout, stderr) => res(`${stdout}\n${stderr}`));
    });
    const m = /tempest: (\d+) passed, (\d+) failed, (\d+) skipped/.exec(out);
    assert.ok(m, `no tempest summary line in:\n${out.slice(-3000)}`);
    t.diagnostic(`${m[0]} (${SMOKE_COUNT} selected)`);
    const lines = existsSync(results) ? readFileSync(results, 'utf8').split('\n').filter(Boolean) : [];
    const failures = lines.filter((l) => l.startsWith('fail')).join('\n');
    assert.equal(Number(m[2]), 0, `Tempest failures:\n${failures}\n${existsSync(results + '.details') ? readFileSync(results + '.details', 'utf8').slice(0, 6000) : ''}`);
    // Every named test was selected (a renamed test would silently shrink the subset) ...
    assert.equal(lines.length, SMOKE_COUNT, `expected ${SMOKE_COUNT} results, got ${lines.length}:\n${lines.join('\n')}`);
    // ... and all of them pass on this cloud: none of them is skipped by its configuration.
    assert.equal(Number(m[1]), SMOKE_COUNT, `expected all ${SMOKE_COUNT} to pass:\n${lines.filter((l) => !l.startsWith('pass')).join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// The network service on the three engines (SQLite, PostgreSQL, MariaDB/MySQL), through the HTTP
// API, and the point of this file: IPAM never hands out an address twice. 50 concurrent port
// creates on a /28 (13 addresses in its pool): exactly 13 succeed, the other 37 get 409
// IpAddressGenerationFailure, and the 13 addresses are distinct; 140 on a /25 fill its 125 exactly. Concurrent project networks get
// distinct VXLAN VNIs; a MAC is unique per network; a network with ports is in use.
// CI starts the servers; MONOSTACK_TEST_SKIP_ENGINES=postgres,mysql (or 1) leaves them out.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startNetworkService } from '../testing.js';
import { engineCases, engineSkipped } from '../../common/testing/engines.js';

const ENGINES = engineCases('monostack_network_test');

let cloud: TestCloud;
before(async () => { cloud = await startTestCloud(); });
after(async () => { await cloud?.close(); });

for (const engine of ENGINES) {
  test(`network on ${engine.name}: the API, concurrent IPAM and segments`, { skip: engineSkipped(engine.name) ? `MONOSTACK_TEST_SKIP_ENGINES leaves ${engine.name} out` : false }, async () => {
    await engine.reachable();
    const url = engine.url();
    const svc = await startNetworkService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword, dbUrl: url });
    try {
      const a = (m: string, p: string, body?: unknown) => svc.admin(m, p, { body });
      const n = await a('POST', '/v2.0/networks', { network: { name: 'n1' } });
      assert.equal(n.status, 201, n.text);
      const netId = n.body.network.id;
      const s = await a('POST', '/v2.0/subnets', { subnet: { network_id: netId, ip_version: 4, cidr: '10.9.0.0/28', dns_nameservers: ['10.9.0.1'], host_routes: [{ destination: '10.10.0.0/24', nexthop: '10.9.0.3' }] } });
      assert.equal(s.status, 201, s.text);
      assert.deepEqual(s.body.subnet.allocation_pools, [{ start: '10.9.0.2', end: '10.9.0.14' }]);
      assert.equal(s.body.subnet.gateway_ip, '10.9.0.1');
      const ov = await a('POST', '/v2.0/subnets', { subnet: { network_id: netId, ip_version: 4, cidr: '10.9.0.8/29' } });
      assert.equal(ov.status, 400);
      assert.equal(ov.body.NeutronError.type, 'InvalidInput');

      const N = 50;
      const results = await Promise.all(Array.from({ length: N }, (_, i) => a('POST', '/v2.0/ports', { port: { network_id: netId, name: `p${i}` } })));
      const ok = results.filter((r) => r.status === 201);
      const refused = results.filter((r) => r.status === 409);
      assert.equal(ok.length, 13, results.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.text).join('\n'));
      assert.equal(refused.length, N - 13);
      for (const r of refused) assert.equal(r.body.NeutronError.type, 'IpAddressGenerationFailure');
      const ips = ok.map((r) => r.body.port.fixed_ips[0].ip_address);
      assert.equal(new Set(ips).size, 13);
      const macs = ok.map((r) => r.body.port.mac_address);
      assert.equal(new Set(macs).size, 13);
      for (const m of macs) assert.match(m, /^fa:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$/);
      const avail = await a('GET', `/v2.0/network-ip-availabilities/${netId}`);
      assert.equal(avail.body.network_ip_availability.used_ips, 13);
      assert.equal(avail.body.network_ip_availability.total_ips, 13);

      // A MAC is unique per network; a network with ports is in use; a used subnet too.
      const n2 = (await a('POST', '/v2.0/networks', { network: { name: 'n2' } })).body.network.id;
      const dupMac = await a('POST', '/v2.0/ports', { port: { network_id: netId, mac_address: macs[0] } });
      assert.equal(dupMac.status, 409);
      assert.equal(dupMac.body.NeutronError.type, 'MacAddressInUse');
      assert.equal((await a('POST', '/v2.0/ports', { port: { network_id: n2, mac_address: macs[0] } })).status, 201);
      const inUse = await a('DELETE', `/v2.0/networks/${netId}`);
      assert.equal(inUse.status, 409);
      assert.equal(inUse.body.NeutronError.type, 'NetworkInUse');
      const subInUse = await a('DELETE', `/v2.0/subnets/${s.body.subnet.id}`);
      assert.equal(subInUse.status, 409);
      assert.equal(subInUse.body.NeutronError.type, 'SubnetInUse');
      // Freed addresses are handed out again.
      assert.equal((await a('DELETE', `/v2.0/ports/${ok[0]!.body.port.id}`)).status, 204);
      const again = await a('POST', '/v2.0/ports', { port: { network_id: netId, fixed_ips: [{ ip_address: ips[0] }] } });
      assert.equal(again.status, 201, again.text);

      // A /25 (125 addresses): creates probe random addresses while the pool is sparse and read the
      // whole subnet once the probes keep hitting taken ones; 140 concurrent creates fill it exactly.
      const n3 = (await a('POST', '/v2.0/networks', { network: { name: 'n3' } })).body.network.id;
      assert.equal((await a('POST', '/v2.0/subnets', { subnet: { network_id: n3, ip_version: 4, cidr: '10.11.0.0/25' } })).status, 201);
      const wide = await Promise.all(Array.from({ length: 140 }, (_, i) => a('POST', '/v2.0/ports', { port: { network_id: n3, name: `w${i}` } })));
      const wideOk = wide.filter((r) => r.status === 201);
      assert.equal(wideOk.length, 125, wide.filter((r) => r.status !== 201 && r.status !== 409).map((r) => r.text).join('\n'));
      assert.equal(wide.filter((r) => r.status === 409 && r.body.NeutronError.type === 'IpAddressGenerationFailure').length, 15);
      const wideIps = wideOk.map((r) => r.body.port.fixed_ips[0].ip_address as string);
      assert.equal(new Set(wideIps).size, 125);
      for (const ip of wideIps) assert.ok(Number(ip.split('.')[3]) >= 2 && Number(ip.split('.')[3]) <= 126, ip);
      // What a create answers is what is stored.
      const shown = await a('GET', `/v2.0/ports/${wideOk[7]!.body.port.id}`);
      assert.deepEqual(shown.body.port, wideOk[7]!.body.port);

      // Concurrent project networks: distinct VNIs.
      const nets = await Promise.all(Array.from({ length: 12 }, (_, i) => a('POST', '/v2.0/networks', { network: { name: `c${i}` } })));
      for (const r of nets) assert.equal(r.status, 201, r.text);
      const vnis = nets.map((r) => r.body.network['provider:segmentation_id']);
      assert.equal(new Set(vnis).size, 12);

      // Security groups: the default group is created once under concurrency.
      const lists = await Promise.all(Array.from({ length: 6 }, () => a('GET', '/v2.0/security-groups?name=default')));
      for (const l of lists) assert.equal(l.status, 200, l.text);
      const defaults = (await a('GET', '/v2.0/security-groups?name=default')).body.security_groups;
      assert.equal(defaults.length, 1);
      assert.equal(defaults[0].security_group_rules.length, 4);
    } finally {
      await svc.close();
      await engine.drop(url);
    }
  });
}

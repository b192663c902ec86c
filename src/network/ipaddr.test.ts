// Address arithmetic as netaddr does it where Neutron relies on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalIp, parseCidr, cidrText, overlaps, eui64, parseIp, contains } from './ipaddr.js';

test('parsing and canonical text (RFC 5952, as netaddr prints)', () => {
  for (const [a, b] of [['::', '::'], ['::1', '::1'], ['2001:DB8::', '2001:db8::'], ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:1:0:ffff:ffff:ffff:ffff', '2001:db8:1:0:ffff:ffff:ffff:ffff'], ['::ffff:1.2.3.4', '::ffff:1.2.3.4'], ['::ffff:0102:0304', '::ffff:1.2.3.4'], ['10.0.0.1', '10.0.0.1'],
    ['fe80:0:0:0:0:0:0:1', 'fe80::1']] as const) {
    assert.equal(canonicalIp(a), b, a);
  }
  for (const bad of [':::', '1:2:3:4:5:6:7:8:9', '1::2::3', '256.1.1.1', '1.2.3', '01.2.3.4', 'g::1', '', '1.2.3.4/24']) assert.equal(parseIp(bad), undefined, bad);
});

test('prefixes: network, containment, overlap, EUI-64', () => {
  assert.equal(cidrText(parseCidr('10.1.2.3/16')!), '10.1.0.0/16');
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.ok(overlaps(parseCidr('10.0.0.0/24')!, parseCidr('10.0.0.128/25')!));
  assert.ok(!overlaps(parseCidr('10.0.0.0/25')!, parseCidr('10.0.0.128/25')!));
  assert.ok(!overlaps(parseCidr('::/0')!, parseCidr('10.0.0.0/8')!));
  assert.ok(contains(parseCidr('2001:db8::/64')!, parseIp('2001:db8::ffff')!));
  // netaddr.EUI('fa:16:3e:11:22:33').ipv6(IPNetwork('2001:db8::/64').first)
  assert.equal(eui64(parseCidr('2001:db8::/64')!, 'fa:16:3e:11:22:33'), '2001:db8::f816:3eff:fe11:2233');
});

// End to end with Debian's python3-osc-placement: `openstack resource provider ...`, inventories,
// resource classes, traits and allocation candidates against a placement service found through
// the Keystone catalog, exactly as an operator would run them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startTestCloud, type TestCloud } from '../../identity/testing.js';
import { startPlacementService, type PlacementTestService } from '../testing.js';
import { run } from '../../common/exec.js';

const OPENSTACK = '/usr/bin/openstack';
const hasOsc = existsSync(OPENSTACK) && existsSync('/usr/lib/python3/dist-packages/osc_placement');
const skip = hasOsc ? false : 'python3-openstackclient / python3-osc-placement are not installed';

let cloud: TestCloud;
let svc: PlacementTestService;
before(async () => {
  if (!hasOsc) return;
  cloud = await startTestCloud();
  svc = await startPlacementService({ identityUrl: cloud.url, adminPassword: cloud.adminPassword });
});
after(async () => { await svc?.close(); await cloud?.close(); });

async function osc(args: string[], version?: string): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const env = {
    PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp',
    OS_AUTH_URL: `${cloud.url}/v3`, OS_USERNAME: 'admin', OS_PASSWORD: cloud.adminPassword, OS_PROJECT_NAME: 'admin',
    OS_USER_DOMAIN_NAME: 'Default', OS_PROJECT_DOMAIN_NAME: 'Default', OS_IDENTITY_API_VERSION: '3', OS_REGION_NAME: 'RegionOne',
    OS_INTERFACE: 'public', ...(version ? { OS_PLACEMENT_API_VERSION: version } : {}),
  };
  const r = await run(OPENSTACK, [...args, ...(args.includes('delete') && !args.includes('inventory') ? [] : ['-f', 'json'])], { env, timeoutMs: 120_000 });
  return r.stdout.trim() ? JSON.parse(r.stdout) : undefined;
}

test('openstack resource provider / inventory / class / trait / allocation candidate', { skip }, async () => {
  const created = await osc(['resource', 'provider', 'create', 'e2e-compute-1'], '1.14');
  assert.equal(created.name, 'e2e-compute-1');
  assert.equal(created.generation, 0);
  const uuid = created.uuid as string;
  const list = await osc(['resource', 'provider', 'list'], '1.14');
  assert.ok(list.some((p: { uuid: string; name: string }) => p.uuid === uuid && p.name === 'e2e-compute-1'));
  const shown = await osc(['resource', 'provider', 'show', uuid], '1.14');
  assert.equal(shown.uuid, uuid);
  assert.equal(shown.root_provider_uuid, uuid);

  const inv = await osc(['resource', 'provider', 'inventory', 'set', uuid, '--resource', 'VCPU=8', '--resource', 'MEMORY_MB=4096', '--resource', 'VCPU:allocation_ratio=4.0']);
  const byClass = Object.fromEntries(inv.map((i: { resource_class: string }) => [i.resource_class, i]));
  assert.equal(byClass.VCPU.total, 8);
  assert.equal(byClass.VCPU.allocation_ratio, 4);
  assert.equal(byClass.MEMORY_MB.total, 4096);
  const invList = await osc(['resource', 'provider', 'inventory', 'list', uuid]);
  assert.deepEqual(invList.map((i: { resource_class: string }) => i.resource_class).sort(), ['MEMORY_MB', 'VCPU']);

  const classes = await osc(['resource', 'class', 'list'], '1.2');
  assert.ok(classes.some((c: { name: string }) => c.name === 'VCPU'));
  const traits = await osc(['trait', 'list'], '1.6');
  assert.ok(traits.some((t: { name: string }) => t.name === 'HW_CPU_X86_AVX2'));

  const cands = await osc(['allocation', 'candidate', 'list', '--resource', 'VCPU=1'], '1.10');
  assert.ok(cands.some((c: { 'resource provider': string; allocation: string }) => c['resource provider'] === uuid && /VCPU=1/.test(c.allocation)), JSON.stringify(cands));

  await osc(['resource', 'provider', 'delete', uuid]);
  const after = await osc(['resource', 'provider', 'list'], '1.14');
  assert.ok(!after.some((p: { uuid: string }) => p.uuid === uuid));
});

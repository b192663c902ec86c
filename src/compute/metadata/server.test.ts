// The metadata API over HTTP on a real cloud (identity, image, placement, compute on the fake
// driver, a temporary data directory): servers booted with a key pair, metadata, user data and a
// config drive; requests signed as the network service's metadata proxy signs them. Bodies, types
// and error pages as Nova 26 renders them (the error texts are webob's, checked against Nova).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startTestCloud, type TestCloud, type Project } from '../../cli/test-cloud.js';
import { openDatabase, type Database } from '../../common/db/index.js';
import type { ComputeContext } from '../context.js';
import type { InstanceSpec } from '../agent/driver.js';
import { createMetadataApp, signInstanceId } from './server.js';
import { configDriveFilesFor, metadataSettings } from './source.js';
import { pyJson as pyJsonOf } from './documents.js';

const SECRET = 'metadata-test-secret';
const V = { 'OpenStack-API-Version': 'compute 2.93' };
const USER_DATA = Buffer.from('#!/bin/sh\necho "hello from user data"\n\u00e9\n');

let c: TestCloud;
let p: Project;
let other: Project;
let base: string;
let imageId: string;
let pubkey: string;
let server: { id: string; name: string };
let otherServer: string;
let db: Database;
let vendorDir: string;

interface MdReply { status: number; type: string | null; text: string; bytes: Buffer; headers: Headers }

async function md(path: string, o: { uuid?: string; tenant?: string; sig?: string | null; headers?: Record<string, string>; method?: string; body?: string | Buffer } = {}): Promise<MdReply> {
  const uuid = o.uuid ?? server.id;
  // fetch sends Accept: */* (as cloud-init's requests does), which gets webob's HTML error pages;
  // the plain-text ones are easier to read here (the HTML and JSON ones are checked below).
  const headers: Record<string, string> = { 'X-Instance-ID': uuid, 'X-Tenant-ID': o.tenant ?? p.projectId, Accept: 'text/plain', ...(o.headers ?? {}) };
  const sig = o.sig === undefined ? signInstanceId(SECRET, uuid) : o.sig;
  if (sig !== null) headers['X-Instance-ID-Signature'] = sig;
  const res = await fetch(base + path, { method: o.method ?? 'GET', headers, body: o.body });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, type: res.headers.get('content-type'), text: bytes.toString('utf8'), bytes, headers: res.headers };
}

async function waitActive(token: string, id: string): Promise<void> {
  const end = Date.now() + 20_000;
  while (Date.now() < end) {
    const r = await c.call('compute', 'GET', `/servers/${id}`, { token, headers: V });
    if (r.body?.server?.status === 'ACTIVE') return;
    if (r.body?.server?.status === 'ERROR') throw new Error(`server ${id} in ERROR: ${r.text}`);
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`server ${id} not ACTIVE`);
}

async function boot(token: string, body: Record<string, unknown>): Promise<string> {
  const r = await c.call('compute', 'POST', '/servers', { token, headers: V, body: { server: { imageRef: imageId, flavorRef: 'md1', networks: 'none', ...body } } });
  assert.equal(r.status, 202, r.text);
  await waitActive(token, r.body.server.id);
  return r.body.server.id;
}

before(async () => {
  vendorDir = mkdtempSync(join(tmpdir(), 'monostack-vendordata-'));
  writeFileSync(join(vendorDir, 'vendor.json'), JSON.stringify({ ntp: ['0.pool.example'], 'é': { n: 1 } }));
  c = await startTestCloud({ services: ['image', 'placement', 'compute'], config: { compute: {
    compute_driver: 'fake', host: 'md-host', metadata_proxy_shared_secret: SECRET, vendordata_jsonfile_path: join(vendorDir, 'vendor.json'),
  } } });
  base = `http://127.0.0.1:${c.cfg.compute.metadata_port}`;
  p = await c.project('mdone');
  other = await c.project('mdtwo');
  const admin = await c.adminToken();
  const f = await c.call('compute', 'POST', '/flavors', { token: admin, body: { flavor: { name: 'md.small', ram: 256, vcpus: 1, disk: 1, id: 'md1', 'OS-FLV-EXT-DATA:ephemeral': 1, swap: 64 } } });
  assert.equal(f.status, 200, f.text);
  const img = await c.call('image', 'POST', '/v2/images', { token: admin, body: { name: 'md-img', disk_format: 'raw', container_format: 'bare', visibility: 'public' } });
  assert.equal(img.status, 201, img.text);
  imageId = img.body.id;
  const up = await c.call('image', 'PUT', `/v2/images/${imageId}/file`, { token: admin, raw: new Uint8Array(4096), headers: { 'Content-Type': 'application/octet-stream' } });
  assert.equal(up.status, 204, up.text);
  // A generated key pair (2.1): the guest must see exactly its public key.
  const kp = await c.call('compute', 'POST', '/os-keypairs', { token: p.token, body: { keypair: { name: 'k1' } } });
  assert.equal(kp.status, 200, kp.text);
  pubkey = kp.body.keypair.public_key;
  const id = await boot(p.token, { name: 'md-web', key_name: 'k1', metadata: { role: 'web', tier: '1' }, user_data: USER_DATA.toString('base64'), config_drive: true });
  server = { id, name: 'md-web' };
  otherServer = await boot(other.token, { name: 'md-other' });
  db = await openDatabase(c.cfg.database.url, c.dataDir);
});

after(async () => {
  await db?.close();
  await c?.close();
  if (vendorDir) rmSync(vendorDir, { recursive: true, force: true });
});

test('the root lists the EC2 versions without any identification', async () => {
  const r = await fetch(`${base}/`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=UTF-8');
  assert.equal(await r.text(), '1.0\n2007-01-19\n2007-03-01\n2007-08-29\n2007-10-10\n2007-12-15\n2008-02-01\n2008-09-01\n2009-04-04\nlatest');
});

test('OpenStack layout: versions, the version directory, meta_data.json as Nova renders it', async () => {
  let r = await md('/openstack');
  assert.equal(r.text, '2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\n2016-10-06\n2017-02-22\n2018-08-27\n2020-10-14\nlatest');
  for (const v of ['/openstack/latest', '/openstack/latest/', '/openstack/2020-10-14']) {
    r = await md(v);
    assert.equal(r.status, 200, v);
    assert.equal(r.text, 'meta_data.json\nuser_data\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json', v);
  }
  assert.equal((await md('/openstack/2012-08-10')).text, 'meta_data.json\nuser_data');

  r = await md('/openstack/latest/meta_data.json');
  assert.equal(r.status, 200);
  assert.equal(r.type, 'application/json');
  const doc = JSON.parse(r.text);
  assert.deepEqual(Object.keys(doc), ['uuid', 'meta', 'public_keys', 'keys', 'hostname', 'name', 'launch_index', 'availability_zone', 'random_seed', 'project_id', 'devices', 'dedicated_cpus']);
  assert.equal(doc.uuid, server.id);
  assert.deepEqual(doc.meta, { role: 'web', tier: '1' });
  assert.deepEqual(doc.public_keys, { k1: pubkey });
  assert.deepEqual(doc.keys, [{ name: 'k1', type: 'ssh', data: pubkey }]);
  assert.equal(doc.hostname, 'md-web.novalocal');
  assert.equal(doc.name, 'md-web');
  assert.equal(doc.launch_index, 0);
  assert.equal(doc.availability_zone, 'nova');
  assert.equal(Buffer.from(doc.random_seed, 'base64').length, 512);
  assert.equal(doc.project_id, p.projectId);
  assert.deepEqual(doc.devices, []);
  assert.deepEqual(doc.dedicated_cpus, []);
  // Python's json.dumps spacing, byte for byte.
  assert.ok(r.text.startsWith(`{"uuid": "${server.id}", "meta": {"role": "web", "tier": "1"}, "public_keys": {"k1": `), r.text.slice(0, 120));

  // Older versions carry fewer keys.
  const folsom = JSON.parse((await md('/openstack/2012-08-10/meta_data.json')).text);
  assert.deepEqual(Object.keys(folsom), ['uuid', 'meta', 'public_keys', 'keys', 'hostname', 'name', 'launch_index', 'availability_zone']);
});

test('user_data, vendor data from the operator\'s file and network_data.json (none for --nic none)', async () => {
  let r = await md('/openstack/latest/user_data');
  assert.equal(r.status, 200);
  assert.deepEqual(r.bytes, USER_DATA);
  // [compute] vendordata_jsonfile_path (Nova's StaticJSON provider), in Python's JSON.
  r = await md('/openstack/latest/vendor_data.json');
  assert.equal(r.type, 'application/json');
  assert.equal(r.text, '{"ntp": ["0.pool.example"], "\\u00e9": {"n": 1}}');
  r = await md('/openstack/latest/vendor_data2.json');
  assert.equal(r.text, '{"static": {"ntp": ["0.pool.example"], "\\u00e9": {"n": 1}}}');
  r = await md('/openstack/latest/network_data.json');
  assert.equal(r.type, 'text/plain; charset=UTF-8'); // Nova sets no JSON type on this one
  assert.equal(r.text, '{}');
  // No user data: absent from the listing and a 404.
  r = await md('/openstack/latest', { uuid: otherServer, tenant: other.projectId });
  assert.equal(r.text, 'meta_data.json\npassword\nvendor_data.json\nnetwork_data.json\nvendor_data2.json');
  r = await md('/openstack/latest/user_data', { uuid: otherServer, tenant: other.projectId });
  assert.equal(r.status, 404);
  assert.equal((await md('/latest', { uuid: otherServer, tenant: other.projectId })).text, 'meta-data/');
  const noKey = JSON.parse((await md('/openstack/latest/meta_data.json', { uuid: otherServer, tenant: other.projectId })).text);
  assert.equal(noKey.keys, undefined);
  assert.equal(noKey.meta, undefined);
});

test('EC2 layout: listings and values as Nova prints them', async () => {
  assert.equal((await md('/latest')).text, 'meta-data/\nuser-data');
  const listing = 'ami-id\nami-launch-index\nami-manifest-path\nblock-device-mapping/\nhostname\ninstance-action\ninstance-id\ninstance-type\n'
    + 'local-hostname\nlocal-ipv4\nplacement/\npublic-hostname\npublic-ipv4\npublic-keys/\nreservation-id\nsecurity-groups';
  for (const path of ['/latest/meta-data/', '/latest/meta-data', '/2009-04-04/meta-data/', '/ec2/latest/meta-data/']) {
    const r = await md(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.type, 'text/plain; charset=UTF-8', path);
    assert.equal(r.text, listing, path);
  }
  assert.equal((await md('/1.0/meta-data/')).text, 'ami-id\nami-launch-index\nami-manifest-path\nhostname\ninstance-id\nlocal-ipv4\npublic-keys/\nreservation-id\nsecurity-groups');
  const get = async (k: string, o = {}) => (await md(`/latest/meta-data/${k}`, o)).text;
  assert.match(await get('instance-id'), /^i-[0-9a-f]{8}$/);
  const ami = await get('ami-id');
  assert.match(ami, /^ami-[0-9a-f]{8}$/);
  assert.equal(await get('ami-id', { uuid: otherServer, tenant: other.projectId }), ami, 'one EC2 id per image');
  assert.notEqual(await get('instance-id', { uuid: otherServer, tenant: other.projectId }), await get('instance-id'));
  assert.equal(await get('ami-launch-index'), '0');
  assert.equal(await get('ami-manifest-path'), 'FIXME');
  assert.equal(await get('hostname'), 'md-web.novalocal');
  assert.equal(await get('local-hostname'), 'md-web.novalocal');
  assert.equal(await get('public-hostname'), 'md-web.novalocal');
  assert.equal(await get('instance-type'), 'md.small');
  assert.equal(await get('instance-action'), 'none');
  assert.match(await get('reservation-id'), /^r-[0-9a-z]{8}$/);
  assert.equal(await get('security-groups'), ''); // no ports, no groups (as Nova asks Neutron)
  // No fixed IP: Nova falls back to the requester's address, and prints None without one.
  assert.equal(await get('local-ipv4', { headers: { 'X-Forwarded-For': '10.1.2.3' } }), '10.1.2.3');
  assert.equal(await get('local-ipv4'), 'None');
  assert.equal(await get('public-ipv4'), '');
  assert.equal(await get('placement/'), 'availability-zone');
  assert.equal(await get('placement/availability-zone'), 'nova');
  assert.equal(await get('public-keys/'), '0=k1');
  assert.equal(await get('public-keys/0'), 'openssh-key');
  assert.equal(await get('public-keys/0/openssh-key'), pubkey);
  assert.equal(await get('block-device-mapping/'), 'ami\nephemeral0\nroot\nswap');
  assert.equal(await get('block-device-mapping/ami'), 'vda');
  assert.equal(await get('block-device-mapping/root'), '/dev/vda');
  assert.equal(await get('block-device-mapping/ephemeral0'), '/dev/vdb');
  assert.equal(await get('block-device-mapping/swap'), '/dev/vdc');
  const ud = await md('/latest/user-data');
  assert.deepEqual(ud.bytes, USER_DATA);
});

test('the password: empty, set once by the guest (the API shows it), then 409; too large is 400; PUT is 400', async () => {
  let r = await md('/openstack/latest/password');
  assert.equal(r.status, 200);
  assert.equal(r.text, '');
  r = await md('/openstack/latest/password', { method: 'POST', body: 'x'.repeat(1021) });
  assert.equal(r.status, 400);
  assert.equal(r.text, '400 Bad Request\n\nRequest is too large.\n\n   ');
  r = await md('/openstack/latest/password', { method: 'PUT', body: 'x' });
  assert.equal(r.status, 400);
  assert.equal(r.text, '400 Bad Request\n\nGET and POST only are supported.\n\n   ');
  assert.equal((await md('/openstack/2012-08-10/password')).status, 404, 'password arrived in 2013-04-04');

  const encrypted = Buffer.from('encrypted-password-blob').toString('base64');
  r = await md('/openstack/latest/password', { method: 'POST', body: encrypted });
  assert.equal(r.status, 200, r.text);
  assert.equal((await md('/openstack/latest/password')).text, encrypted);
  const api = await c.call('compute', 'GET', `/servers/${server.id}/os-server-password`, { token: p.token });
  assert.equal(api.status, 200, api.text);
  assert.equal(api.body.password, encrypted);
  r = await md('/openstack/latest/password', { method: 'POST', body: 'another' });
  assert.equal(r.status, 409);
  assert.equal(r.text, '409 Conflict\n\nThere was a conflict when trying to complete your request.\n\n   ');
  assert.equal((await md('/openstack/latest/password')).text, encrypted);
  // Once the operator clears it, the guest may post again.
  const clear = await c.call('compute', 'DELETE', `/servers/${server.id}/os-server-password`, { token: p.token });
  assert.equal(clear.status, 204, clear.text);
  r = await md('/openstack/latest/password', { method: 'POST', body: 'second' });
  assert.equal(r.status, 200, r.text);
  assert.equal((await md('/openstack/latest/password')).text, 'second');
});

test('two guests racing to set the password: exactly one wins', async () => {
  await c.call('compute', 'DELETE', `/servers/${otherServer}/os-server-password`, { token: other.token });
  const posts = await Promise.all(['a', 'b', 'c', 'd'].map((pw) => md('/openstack/latest/password', { uuid: otherServer, tenant: other.projectId, method: 'POST', body: pw })));
  assert.deepEqual(posts.map((x) => x.status).sort(), [200, 409, 409, 409]);
});

test('identification: missing headers 400, missing or wrong signature 403, other project or unknown instance 404', async () => {
  const forbidden = '403 Forbidden\n\nInvalid proxy request signature.\n\n   ';
  // Nova answers a request without the signature header with 400 (and an empty or wrong one with 403).
  let r = await md('/latest/meta-data/', { sig: null });
  assert.equal(r.status, 400);
  assert.equal(r.text, '400 Bad Request\n\nX-Instance-ID-Signature header is missing from request.\n\n   ');
  r = await fetch(`${base}/latest/meta-data/`, { headers: { Accept: 'text/plain' } }).then(async (x) => ({ status: x.status, text: await x.text() }) as MdReply);
  assert.equal(r.status, 400);
  assert.equal(r.text, '400 Bad Request\n\nX-Instance-ID header is missing from request.\n\n   ');
  r = await fetch(`${base}/latest/meta-data/`, { headers: { Accept: 'text/plain', 'X-Instance-ID': server.id, 'X-Instance-ID-Signature': signInstanceId(SECRET, server.id) } }).then(async (x) => ({ status: x.status, text: await x.text() }) as MdReply);
  assert.equal(r.status, 400);
  assert.equal(r.text, '400 Bad Request\n\nX-Tenant-ID header is missing from request.\n\n   ');

  for (const sig of ['', 'deadbeef', signInstanceId('another-secret', server.id), signInstanceId(SECRET, server.id).toUpperCase(), signInstanceId(SECRET, otherServer)]) {
    r = await md('/openstack/latest/meta_data.json', { sig });
    assert.equal(r.status, 403, `signature ${JSON.stringify(sig)}`);
    assert.equal(r.text, forbidden);
    assert.ok(!r.text.includes(server.id));
  }
  // A valid signature for the instance, but the tenant is another project: 404, as Nova.
  r = await md('/openstack/latest/meta_data.json', { tenant: other.projectId });
  assert.equal(r.status, 404);
  assert.equal(r.text, '404 Not Found\n\nThe resource could not be found.\n\n   ');
  r = await md('/openstack/latest/meta_data.json', { uuid: otherServer, tenant: p.projectId });
  assert.equal(r.status, 404);
  // An instance that does not exist (signed): 404.
  r = await md('/openstack/latest/meta_data.json', { uuid: '00000000-0000-4000-8000-000000000000' });
  assert.equal(r.status, 404);
  // Two X-Instance-ID headers cannot be told apart after a join: refused.
  const dup = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = httpRequest(`${base}/latest`, { headers: { Accept: 'text/plain', 'X-Instance-ID': [server.id, otherServer], 'X-Tenant-ID': p.projectId, 'X-Instance-ID-Signature': signInstanceId(SECRET, server.id) } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; }).on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject).end();
  });
  assert.equal(dup.status, 400);
  assert.equal(dup.text, '400 Bad Request\n\nMultiple X-Instance-ID headers found within request.\n\n   ');
});

test("error pages follow webob's choice by Accept", async () => {
  let r = await md('/openstack/latest/meta_data.json', { sig: 'bad', headers: { Accept: '*/*' } });
  assert.equal(r.type, 'text/html; charset=UTF-8');
  assert.equal(r.text, '<html>\n <head>\n  <title>403 Forbidden</title>\n </head>\n <body>\n  <h1>403 Forbidden</h1>\n  Invalid proxy request signature.<br /><br />\n\n\n\n </body>\n</html>');
  r = await md('/latest/nope', { headers: { Accept: 'application/json' } });
  assert.equal(r.status, 404);
  assert.equal(r.type, 'application/json');
  assert.equal(r.text, '{"message": "The resource could not be found.<br /><br />\\n\\n\\n", "code": "404 Not Found", "title": "Not Found"}');
  r = await md('/latest/nope', { headers: { Accept: 'text/html;q=0.5, application/json' } });
  assert.equal(r.type, 'application/json');
  r = await md('/latest/nope', { headers: { Accept: 'text/plain' } });
  assert.equal(r.type, 'text/plain; charset=UTF-8');
});

test('unknown paths are 404; other methods on documents are 405 with Allow', async () => {
  for (const path of ['/latest/nope', '/2010-01-01/meta-data/', '/latest/meta-data/hostname/x', '/latest/meta-data/public-keys/1', '/openstack/2011-01-01/meta_data.json',
    '/openstack/latest/nope', '/openstack/latest/meta_data.json/x', '/openstack/content', '/openstack/content/0000', '/openstack/2013-04-04/vendor_data.json', '/%E0%A4%A']) {
    const r = await md(path);
    assert.equal(r.status, 404, path);
    assert.equal(r.text, '404 Not Found\n\nThe resource could not be found.\n\n   ', path);
  }
  for (const [method, path] of [['POST', '/openstack/latest/meta_data.json'], ['DELETE', '/latest/meta-data/'], ['PUT', '/latest/user-data'], ['PATCH', '/openstack'], ['POST', '/']]) {
    const r = await md(path!, { method, body: method === 'DELETE' ? undefined : 'x' });
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get('allow'), 'GET, HEAD');
    assert.equal(r.text, `405 Method Not Allowed\n\nThe method ${method} is not allowed for this resource. \n\n `);
  }
  const head = await md('/openstack/latest/meta_data.json', { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.type, 'application/json');
  assert.equal(head.bytes.length, 0);
});

test('the config drive holds the same documents the metadata API serves', async () => {
  const spec = { uuid: server.id, hostname: 'md-web', configDrive: true } as InstanceSpec;
  const files = await configDriveFilesFor(db.db, spec, metadataSettings(c.cfg));
  const seedless = (s: string) => s.replace(/"random_seed": "[^"]*"/, '"random_seed": ""');
  const paths = Object.keys(files).filter((f) => f.startsWith('openstack/'));
  // 10 versions (9 dated + latest): meta_data.json and user_data each, vendor_data.json from 2013-10-17 (8), network_data.json from 2015-10-15 (7), vendor_data2.json from 2016-10-06 (5).
  assert.equal(paths.length, 10 + 10 + 8 + 7 + 5);
  for (const f of paths) {
    const r = await md(`/${f}`);
    assert.equal(r.status, 200, f);
    const disk = Buffer.isBuffer(files[f]) ? (files[f] as Buffer).toString('utf8') : (files[f] as string);
    assert.equal(seedless(disk), seedless(r.text), f);
  }
  for (const v of ['2009-04-04', 'latest']) {
    const ec2 = JSON.parse(String(files[`ec2/${v}/meta-data.json`]));
    assert.equal(ec2['instance-id'], (await md('/latest/meta-data/instance-id')).text);
    assert.deepEqual(ec2['public-keys'], { 0: { _name: '0=k1', 'openssh-key': pubkey } });
    assert.deepEqual(Buffer.from(files[`ec2/${v}/user-data`] as Buffer), USER_DATA);
  }
  assert.deepEqual(Object.keys(files).filter((f) => f.startsWith('ec2/')).sort(), ['ec2/2009-04-04/meta-data.json', 'ec2/2009-04-04/user-data', 'ec2/latest/meta-data.json', 'ec2/latest/user-data']);
});

test('a server with ports: network_data.json, local-ipv4, public-ipv4 and security groups from its network info cache', async () => {
  const id = await boot(p.token, { name: 'md-net', security_groups: [{ name: 'web' }] });
  // The cache as the agent writes it (Nova's network model; src/compute/network.ts buildNetworkInfo).
  const vif = (n: number, subnets: unknown[], mtu: number | null) => ({
    id: `aaaaaaaa-0000-4000-8000-00000000000${n}`, address: `fa:16:3e:00:00:0${n}`, type: 'bridge', devname: `tapaaaaaaaa-0${n}`,
    details: {}, vnic_type: 'normal', active: true, preserve_on_delete: false, profile: {},
    network: { id: `bbbbbbbb-0000-4000-8000-00000000000${n}`, bridge: 'brq', label: `net${n}`, subnets, meta: { injected: false, tenant_id: p.projectId, mtu } },
  });
  const info = [
    vif(1, [{
      cidr: '10.20.0.0/24', version: 4, gateway: { address: '10.20.0.1', type: 'gateway', version: 4 }, dns: [{ address: '10.20.0.2', type: 'dns', version: 4 }],
      routes: [{ cidr: '172.16.0.0/12', gateway: { address: '10.20.0.254', type: 'gateway', version: 4 } }],
      ips: [{ address: '10.20.0.7', type: 'fixed', version: 4, floating_ips: [{ address: '192.0.2.50', type: 'floating', version: 4 }] }], meta: { enable_dhcp: false },
    }], 1450),
    vif(2, [{
      cidr: '10.30.0.0/24', version: 4, gateway: { address: '10.30.0.1', type: 'gateway', version: 4 }, dns: [], routes: [],
      ips: [{ address: '10.30.0.9', type: 'fixed', version: 4, floating_ips: [] }], meta: { enable_dhcp: true },
    }], 1500),
  ];
  await db.db.updateTable('instances').set({ network_info: JSON.stringify(info) }).where('uuid', '=', id).execute();
  const nd = await md('/openstack/latest/network_data.json', { uuid: id });
  assert.equal(nd.text, pyJsonOf({
    links: [
      { id: 'tapaaaaaaaa-01', vif_id: info[0]!.id, type: 'bridge', mtu: 1450, ethernet_mac_address: 'fa:16:3e:00:00:01' },
      { id: 'tapaaaaaaaa-02', vif_id: info[1]!.id, type: 'bridge', mtu: null, ethernet_mac_address: 'fa:16:3e:00:00:02' },
    ],
    networks: [
      { id: 'network0', type: 'ipv4', link: 'tapaaaaaaaa-01', ip_address: '10.20.0.7', netmask: '255.255.255.0',
        routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.20.0.1' }, { network: '172.16.0.0', netmask: '255.240.0.0', gateway: '10.20.0.254' }],
        network_id: info[0]!.network.id, services: [{ type: 'dns', address: '10.20.0.2' }] },
      { id: 'network1', type: 'ipv4_dhcp', link: 'tapaaaaaaaa-02', network_id: info[1]!.network.id },
    ],
    services: [{ type: 'dns', address: '10.20.0.2' }],
  }));
  const get = async (k: string) => (await md(`/latest/meta-data/${k}`, { uuid: id, headers: { 'X-Forwarded-For': '10.20.0.7' } })).text;
  assert.equal(await get('local-ipv4'), '10.20.0.7');
  assert.equal(await get('public-ipv4'), '192.0.2.50');
  assert.equal(await get('security-groups'), 'web');
});

test('a deleted server has no metadata', async () => {
  const id = await boot(p.token, { name: 'md-gone' });
  assert.equal((await md('/openstack/latest/meta_data.json', { uuid: id })).status, 200);
  const d = await c.call('compute', 'DELETE', `/servers/${id}`, { token: p.token });
  assert.equal(d.status, 204, d.text);
  const end = Date.now() + 10_000;
  let status = 200;
  while (Date.now() < end && status === 200) {
    status = (await md('/openstack/latest/meta_data.json', { uuid: id })).status;
    if (status === 200) await new Promise((res) => setTimeout(res, 50));
  }
  assert.equal(status, 404);
});

test('without a shared secret every proxied request is refused (nothing is served unauthenticated)', async () => {
  const ctx = { log: pino({ level: 'silent' }) } as unknown as ComputeContext; // refused before any database access
  const app = createMetadataApp({ ctx, host: '127.0.0.1', port: 0, sharedSecret: '' });
  try {
    for (const sig of ['', signInstanceId('', server.id), signInstanceId(SECRET, server.id)]) {
      const r = await app.inject({ method: 'GET', url: '/openstack/latest/meta_data.json', headers: { 'X-Instance-ID': server.id, 'X-Tenant-ID': p.projectId, 'X-Instance-ID-Signature': sig } });
      assert.equal(r.statusCode, 403);
      assert.equal(r.body, '403 Forbidden\n\nInvalid proxy request signature.\n\n   ');
    }
    const root = await app.inject({ method: 'GET', url: '/' });
    assert.equal(root.statusCode, 200);
  } finally {
    await app.close();
  }
});

test('a missing or malformed vendordata_jsonfile_path stops the service at start', () => {
  const cfg = (path: string) => ({ compute: { ...c.cfg.compute, vendordata_jsonfile_path: path } }) as typeof c.cfg;
  assert.throws(() => metadataSettings(cfg(join(vendorDir, 'absent.json'))), /vendordata_jsonfile_path .*absent\.json: ENOENT/);
  writeFileSync(join(vendorDir, 'bad.json'), '{not json');
  assert.throws(() => metadataSettings(cfg(join(vendorDir, 'bad.json'))), /vendordata_jsonfile_path .*bad\.json/);
  assert.deepEqual(metadataSettings(cfg('')), { dhcpDomain: 'novalocal', vendorData: {} });
});

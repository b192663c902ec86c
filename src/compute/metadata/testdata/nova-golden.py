#!/usr/bin/python3
# Generates nova-golden.ts: what Nova 26's own metadata code (Debian's python3-nova) answers for two
# instances (one without networks and with user data, one with the network info of
# nova-golden-nwinfo.json, ephemeral and swap disks and non-ASCII names), and the config drive files
# it writes (with an admin_pass for the second). The documents tests compare our builder with these. random_seed is 512 zero bytes here.
#   apt-get install -y python3-nova && /usr/bin/python3 nova-golden.py > nova-golden.ts
import os, sys, json, hmac, hashlib, base64
from unittest import mock
import nova.conf
CONF = nova.conf.CONF
from oslo_log import log as _l; _l.register_options(CONF)
CONF([], project="nova", default_config_files=[])
CONF.set_override('service_metadata_proxy', True, group='neutron')
CONF.set_override('metadata_proxy_shared_secret', 'sekrit', group='neutron')
from nova import objects
objects.register_all()
from nova.api.metadata import base, handler
from nova import block_device
from nova.network import model as nm
import webob


P = ['/', '/latest', '/latest/', '/2009-04-04', '/1.0', '/ec2', '/ec2/latest', '/latest/meta-data', '/latest/meta-data/', '/1.0/meta-data/',
     '/2007-01-19/meta-data/', '/2007-08-29/meta-data/', '/2007-12-15/meta-data/', '/2008-02-01/meta-data/',
     '/latest/meta-data/ami-id', '/latest/meta-data/ami-launch-index', '/latest/meta-data/ami-manifest-path', '/latest/meta-data/instance-id',
     '/latest/meta-data/hostname', '/latest/meta-data/local-hostname', '/latest/meta-data/public-hostname', '/latest/meta-data/local-ipv4',
     '/latest/meta-data/public-ipv4', '/latest/meta-data/reservation-id', '/latest/meta-data/security-groups', '/latest/meta-data/instance-type',
     '/latest/meta-data/instance-action', '/latest/meta-data/kernel-id', '/latest/meta-data/ramdisk-id',
     '/latest/meta-data/public-keys', '/latest/meta-data/public-keys/', '/latest/meta-data/public-keys/0', '/latest/meta-data/public-keys/0/openssh-key',
     '/latest/meta-data/block-device-mapping/', '/latest/meta-data/block-device-mapping/ami', '/latest/meta-data/block-device-mapping/root',
     '/latest/meta-data/block-device-mapping/ephemeral0', '/latest/meta-data/block-device-mapping/swap',
     '/latest/meta-data/placement/', '/latest/meta-data/placement/availability-zone', '/latest/user-data', '/2009-04-04/user-data',
     '/latest/nope', '/2010-01-01/meta-data/', '/latest/meta-data/public-keys/1',
     '/openstack', '/openstack/', '/openstack/latest', '/openstack/latest/', '/openstack/2012-08-10', '/openstack/2013-04-04', '/openstack/2013-10-17',
     '/openstack/2015-10-15', '/openstack/2016-06-30', '/openstack/2016-10-06', '/openstack/2020-10-14', '/openstack/latest/version',
     '/openstack/latest/user_data', '/openstack/latest/password', '/openstack/latest/vendor_data.json', '/openstack/latest/vendor_data2.json',
     '/openstack/latest/network_data.json', '/openstack/2012-08-10/network_data.json', '/openstack/2012-08-10/password',
     '/openstack/2013-04-04/vendor_data.json', '/openstack/2016-06-30/vendor_data2.json', '/openstack/content', '/openstack/content/0000',
     '/openstack/latest/nope', '/openstack/2011-01-01/meta_data.json', '/openstack/latest/meta_data.json/x', '/openstack/latest/../2012-08-10',
     '/openstack/latest/meta_data.json', '/openstack/2012-08-10/meta_data.json', '/openstack/2013-04-04/meta_data.json', '/openstack/2015-10-15/meta_data.json',
     '/openstack/2016-06-30/meta_data.json', '/openstack/2020-10-14/meta_data.json']
CASES = [{'p': p} for p in P]

UUID = 'b65cee2f-8c69-4aeb-be2f-f79742548fc2'
nwinfo = nm.NetworkInfo([])
VARIANT = os.environ.get('GOLDEN_VARIANT', 'plain')
NET = VARIANT == 'net'
RESULT = {}
if NET:
    nwinfo = nm.NetworkInfo.hydrate(json.loads(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'nova-golden-nwinfo.json')).read()))
def inst():
    i = objects.Instance(id=1, user_id='u', uuid=UUID, project_id='proj', key_name='key', key_data='ssh-rsa AAAA test@host',
        host='h', launch_index=0, reservation_id='r-abcdefgh', user_data=base64.b64encode(b'#!/bin/sh\necho hi\n').decode(),
        image_ref='11111111-2222-3333-4444-555555555555', kernel_id=None, ramdisk_id=None, vcpus=1, root_device_name='/dev/vda',
        hostname='my-server', display_name='My Server', metadata={'role': 'web'}, device_metadata=None, default_ephemeral_device=None,
        default_swap_device=None, system_metadata={}, security_groups=objects.SecurityGroupList(), availability_zone='nova', numa_topology=None)
    i.keypairs = objects.KeyPairList(objects=[objects.KeyPair(name='key', type='ssh', public_key='ssh-rsa AAAA test@host')])
    i.info_cache = objects.InstanceInfoCache(instance_uuid=UUID, network_info=nwinfo)
    i.flavor = objects.Flavor(name='m1.tiny', flavorid='1', memory_mb=512, vcpus=1, root_gb=1, ephemeral_gb=0, swap=0, extra_specs={})
    i.ec2_ids = objects.EC2Ids(instance_id='i-00000001', ami_id='ami-00000001', kernel_id=None, ramdisk_id=None)
    if NET:
        i.default_ephemeral_device = '/dev/vdb'; i.default_swap_device = '/dev/vdc'; i.kernel_id = 'k'; i.ramdisk_id = 'r'
        i.ec2_ids = objects.EC2Ids(instance_id='i-0000002a', ami_id='ami-00000001', kernel_id='aki-00000002', ramdisk_id='ari-00000003')
        i.display_name = 'Caf\u00e9 \u2603 "q"'; i.metadata = {'a': 'x\ny', 'b': '\u00fc'}; i.user_data = None; i.launch_index = 2
    return i
with mock.patch('nova.api.metadata.base._format_instance_mapping', lambda inst: block_device.instance_block_mapping(inst, [])), \
     mock.patch('nova.network.security_group_api.get_instance_security_groups', lambda c, i: [{'name': 'default'}]), \
     mock.patch('nova.objects.Instance.obj_from_primitive', side_effect=lambda p: I), \
     mock.patch('os.urandom', lambda n: b'\0' * n):
    I = inst()
    md = base.InstanceMetadata(I, address='10.9.9.9' if NET else None)
    # The config drive of the 'net' instance carries an admin password (the libvirt driver's extra_md).
    drive_md = base.InstanceMetadata(I, address='10.9.9.9', extra_md={'admin_pass': 'Pw-123'}) if NET else md
    drive = {p: (v.decode() if isinstance(v, bytes) else v) for p, v in drive_md.metadata_for_config_drive()}
    app = handler.MetadataRequestHandler()
    app.get_metadata_by_instance_id = lambda iid, addr: md if iid == UUID else None
    sig = hmac.new(b'sekrit', UUID.encode(), hashlib.sha256).hexdigest()
    good = {'X-Instance-ID': UUID, 'X-Tenant-ID': 'proj', 'X-Instance-ID-Signature': sig}
    cases = CASES
    out = []
    for c in cases:
        h = good if c.get('h') is None else c['h']
        req = webob.Request.blank(c['p'], headers=h, method=c.get('m', 'GET'))
        if 'body' in c: req.body = c['body'].encode()
        try:
            r = req.get_response(app)
        except Exception as e:
            out.append({"p": c["p"], "m": c.get("m","GET"), "status": "EXC " + type(e).__name__, "ct": "", "body": str(e)}); continue
        out.append({'p': c['p'], 'm': c.get('m', 'GET'), 'status': r.status, 'ct': r.headers.get('Content-Type'), 'body': r.body.decode()})
    RESULT[VARIANT] = {'cases': out, 'drive': drive}

import re
def scrub(v):
    return re.sub(r'"random_seed": "[A-Za-z0-9+/=]+"', '"random_seed": "<random_seed>"', v)
for c in RESULT[VARIANT]['cases']:
    c['body'] = scrub(c['body'])
RESULT[VARIANT]['drive'] = {k: scrub(v) for k, v in RESULT[VARIANT]['drive'].items()}
if os.environ.get('GOLDEN_CHILD'):
    print(json.dumps(RESULT[VARIANT]))
else:
    import subprocess
    both = {}
    for v in ('plain', 'net'):
        out = subprocess.run([sys.executable, os.path.abspath(__file__)], env={**os.environ, 'GOLDEN_VARIANT': v, 'GOLDEN_CHILD': '1'},
                             check=True, capture_output=True, text=True).stdout
        both[v] = json.loads(out)
    print('// Generated by nova-golden.py from Nova 26 (python3-nova 2:26.2.2): do not edit.')
    print('/* eslint-disable */')
    print('export const NOVA_GOLDEN: Record<string, { cases: { p: string; m: string; status: string; ct: string | null; body: string }[]; drive: Record<string, string> }> = ' + json.dumps(both, indent=1) + ';')

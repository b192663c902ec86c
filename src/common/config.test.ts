import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTIONS, advertisedHost, loadConfig, parseIni, sampleConfig } from './config.js';

function withFile(text: string, fn: (file: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
  try {
    const file = join(dir, 'monostack.conf');
    writeFileSync(file, text);
    fn(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults: every option, with Keystone\'s values where it has them', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.identity.port, 5000);
  assert.equal(c.identity.admin_port, 35357);
  assert.equal(c.identity.token_expiration, 3600);
  assert.equal(c.identity.password_hash_rounds, 12);
  assert.equal(c.DEFAULT.max_request_body_size, 114688);
  assert.equal(c.DEFAULT.host, '127.0.0.1');
  assert.equal(c.DEFAULT.region, 'RegionOne');
  assert.deepEqual(c.DEFAULT.enabled_services, ['identity', 'image', 'placement', 'network', 'compute']);
  assert.equal(c.database.url, 'sqlite:');
  assert.equal(c.DEFAULT.data_dir, join(homedir(), '.monostack'));
  assert.equal(c.identity.key_repository, join(homedir(), '.monostack', 'fernet-keys'));
  assert.equal(c.configFile, undefined);
  for (const [s, defs] of Object.entries(OPTIONS)) {
    for (const k of Object.keys(defs)) assert.notEqual((c as any)[s][k], undefined, `${s}.${k}`);
  }
  // Defaults are copies: changing one config's list leaves the next one alone.
  c.DEFAULT.enabled_services.push('compute');
  assert.deepEqual(loadConfig({ env: {} }).DEFAULT.enabled_services, ['identity', 'image', 'placement', 'network', 'compute']);
});

test('INI file: sections, comments, typed values, key_repository under data_dir', () => {
  withFile([
    '# a comment', '; another', '',
    '[DEFAULT]', 'data_dir = /tmp/monostack-config-test', 'enabled_services = identity, image ,, compute', 'log_level=debug',
    '[database]', 'url = mysql+pymysql://keystone:KEYSTONE_DBPASS@controller/keystone',
    '[identity]', 'port = 5001', 'allow_rescope_scoped_token = no', 'enforce_scope = On', 'password_regex = ^.{8,}$',
  ].join('\n'), (file) => {
    const c = loadConfig({ configFile: file, env: {} });
    assert.equal(c.configFile, file);
    assert.equal(c.DEFAULT.data_dir, '/tmp/monostack-config-test');
    assert.deepEqual(c.DEFAULT.enabled_services, ['identity', 'image', 'compute']);
    assert.equal(c.DEFAULT.log_level, 'debug');
    assert.equal(c.database.url, 'mysql+pymysql://keystone:KEYSTONE_DBPASS@controller/keystone');
    assert.equal(c.identity.port, 5001);
    assert.equal(c.identity.allow_rescope_scoped_token, false);
    assert.equal(c.identity.enforce_scope, true);
    assert.equal(c.identity.password_regex, '^.{8,}$', 'a value may contain "="');
    assert.equal(c.identity.key_repository, '/tmp/monostack-config-test/fernet-keys');
    // MONOSTACK_CONFIG names the file when no option does.
    assert.equal(loadConfig({ env: { MONOSTACK_CONFIG: file } }).identity.port, 5001);
  });
});

test('precedence: defaults < file < environment < command line', () => {
  withFile('[identity]\nport = 5001\nadmin_port = 35358\ntoken_expiration = 60\n', (file) => {
    const env = { MONOSTACK_IDENTITY_PORT: '5002', MONOSTACK_IDENTITY_ADMIN_PORT: '0', MONOSTACK_DATABASE_URL: 'postgres://u:p@db/monostack' };
    const c = loadConfig({ configFile: file, env, overrides: { identity: { port: 5003, token_expiration: undefined } } });
    assert.equal(c.identity.port, 5003, 'command line beats environment');
    assert.equal(c.identity.admin_port, 0, 'environment beats file');
    assert.equal(c.identity.token_expiration, 60, 'an undefined command-line value changes nothing');
    assert.equal(c.database.url, 'postgres://u:p@db/monostack');
    assert.equal(c.identity.max_active_keys, 3, 'untouched options keep their defaults');
  });
  assert.deepEqual(loadConfig({ env: { MONOSTACK_DEFAULT_ENABLED_SERVICES: 'identity' } }).DEFAULT.enabled_services, ['identity']);
  assert.equal(loadConfig({ env: { MONOSTACK_IDENTITY_ENFORCE_SCOPE: 'TRUE' } }).identity.enforce_scope, true);
});

test('bad values are refused with where they came from', () => {
  withFile('[identity]\nport = five thousand\n', (file) => {
    assert.throws(() => loadConfig({ configFile: file, env: {} }), new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\[identity\\] port: expected an integer, got "five thousand"`));
  });
  withFile('[identity]\nport = 50.5\n', (file) => assert.throws(() => loadConfig({ configFile: file, env: {} }), /expected an integer/));
  withFile('[identity]\nenforce_scope = maybe\n', (file) => assert.throws(() => loadConfig({ configFile: file, env: {} }), /expected true or false, got "maybe"/));
  withFile('[keystone]\nport = 1\n', (file) => assert.throws(() => loadConfig({ configFile: file, env: {} }), /unknown section \[keystone\]/));
  withFile('[identity]\nprot = 1\n', (file) => assert.throws(() => loadConfig({ configFile: file, env: {} }), /unknown option prot in \[identity\]/));
  withFile('[identity]\nport\n', (file) => assert.throws(() => loadConfig({ configFile: file, env: {} }), /line 2: expected "key = value"/));
  assert.throws(() => loadConfig({ configFile: '/nonexistent/monostack.conf', env: {} }), /config file not found: \/nonexistent\/monostack.conf/);
  assert.throws(() => loadConfig({ env: { MONOSTACK_IDENTITY_PORT: 'abc' } }), /MONOSTACK_IDENTITY_PORT: expected an integer, got "abc"/);
  assert.throws(() => loadConfig({ env: { MONOSTACK_IDENTITY_ENFORCE_SCOPE: '2' } }), /MONOSTACK_IDENTITY_ENFORCE_SCOPE: expected true or false/);
});

test('parseIni: keys before any section are [DEFAULT], later keys win, CRLF lines', () => {
  assert.deepEqual(parseIni('a = 1\r\n[s]\r\nb=2\r\nb = 3\r\n[ s2 ]\r\nc = x = y'), { DEFAULT: { a: '1' }, s: { b: '3' }, s2: { c: 'x = y' } });
  assert.deepEqual(parseIni(''), {});
});

test('the sample config documents every option and, as shipped (all commented), changes nothing', () => {
  const sample = sampleConfig();
  for (const [s, defs] of Object.entries(OPTIONS)) {
    assert.ok(sample.includes(`[${s}]`), s);
    for (const [k, d] of Object.entries(defs)) {
      assert.ok(sample.includes(`# ${d.help}\n#${k} = `), `${s}.${k}`);
    }
  }
  withFile(sample, (file) => {
    const c = loadConfig({ configFile: file, env: {} });
    const d = loadConfig({ env: {} });
    delete c.configFile;
    delete d.configFile;
    assert.deepEqual(c, d);
  });
  // Uncommented, every default parses back to itself.
  withFile(sample.replace(/^#([a-z_]+ = )/gm, '$1'), (file) => {
    const c = loadConfig({ configFile: file, env: {}, overrides: { DEFAULT: { data_dir: '/tmp/x' }, identity: { key_repository: '/tmp/k' } } });
    const d = loadConfig({ env: {}, overrides: { DEFAULT: { data_dir: '/tmp/x' }, identity: { key_repository: '/tmp/k' } } });
    delete c.configFile;
    delete d.configFile;
    assert.deepEqual(c, d);
  });
});

test('advertisedHost: the catalog never names a wildcard address', () => {
  const c = loadConfig({ env: {} });
  assert.equal(advertisedHost(c), '127.0.0.1');
  c.DEFAULT.host = '0.0.0.0';
  assert.equal(advertisedHost(c), '127.0.0.1');
  c.DEFAULT.host = '::';
  assert.equal(advertisedHost(c), '127.0.0.1');
  c.DEFAULT.host = '10.0.0.5';
  assert.equal(advertisedHost(c), '10.0.0.5');
  c.DEFAULT.public_host = 'controller';
  assert.equal(advertisedHost(c), 'controller');
});

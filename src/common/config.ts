// One configuration file (INI, like every OpenStack service's), every option declared here once with
// its default and meaning; `monostack config sample` prints this table as a documented file, so the
// docs cannot drift from the code. Precedence: defaults < file < environment < command line.
// Environment: MONOSTACK_<SECTION>_<OPTION>, e.g. MONOSTACK_DATABASE_URL, MONOSTACK_IDENTITY_PORT.

import { readFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

type OptType = 'string' | 'int' | 'bool' | 'list';
interface OptDef { type: OptType; default: string | number | boolean | string[]; help: string }

export const OPTIONS = {
  DEFAULT: {
    data_dir: { type: 'string', default: '', help: 'Where state lives (database, keys, stores). Empty: ~/.monostack, or --data-dir.' },
    host: { type: 'string', default: '127.0.0.1', help: 'Address the APIs listen on and advertise in the catalog.' },
    public_host: { type: 'string', default: '', help: 'Host name put in catalog URLs when it differs from `host` (e.g. "controller").' },
    enabled_services: { type: 'list', default: ['identity', 'image', 'placement', 'network', 'compute'], help: 'Services this process runs (identity, image, placement, network, compute).' },
    transport_url: { type: 'string', default: '', help: 'The message bus between services and compute agents: empty for in-process (one machine), or rabbit://user:pass@host:5672/ (RabbitMQ) when controller and compute nodes are separate hosts.' },
    region: { type: 'string', default: 'RegionOne', help: 'Region the catalog endpoints are registered in.' },
    log_level: { type: 'string', default: 'info', help: 'trace, debug, info, warn, error.' },
    max_request_body_size: { type: 'int', default: 114688, help: 'Largest JSON body accepted, in bytes (Keystone\'s default); larger gets 413.' },
  },
  database: {
    url: { type: 'string', default: 'sqlite:', help: 'sqlite: (a file in data_dir), sqlite:/path/file.db, postgres://user:pw@host/db or mysql://user:pw@host/db.' },
  },
  identity: {
    port: { type: 'int', default: 5000, help: 'Keystone v3 API port.' },
    admin_port: { type: 'int', default: 35357, help: 'The legacy admin port, same API (0 disables it).' },
    admin_user: { type: 'string', default: 'admin', help: 'Bootstrap admin user name.' },
    admin_password: { type: 'string', default: '', help: 'Bootstrap admin password. Empty on first start: a random one is generated and written to data_dir/openrc.' },
    admin_project: { type: 'string', default: 'admin', help: 'Bootstrap admin project.' },
    admin_role: { type: 'string', default: 'admin', help: 'Bootstrap admin role (implies member, which implies reader).' },
    token_expiration: { type: 'int', default: 3600, help: 'Token lifetime in seconds.' },
    allow_expired_window: { type: 'int', default: 172800, help: 'Seconds after expiry a service may still validate a token with allow_expired=1.' },
    allow_rescope_scoped_token: { type: 'bool', default: true, help: 'Whether a scoped token may be exchanged for another scope.' },
    key_repository: { type: 'string', default: '', help: 'Fernet key directory. Empty: data_dir/fernet-keys.' },
    max_active_keys: { type: 'int', default: 3, help: 'Keys kept by `monostack fernet rotate` (primary + secondaries + staged).' },
    auth_methods: { type: 'list', default: ['external', 'password', 'token', 'oauth1', 'mapped', 'application_credential'], help: 'Auth methods, in Keystone order (the order defines the token method codes).' },
    password_hash_algorithm: { type: 'string', default: 'bcrypt', help: 'bcrypt (Keystone\'s default, its hashes verify) or scrypt.' },
    password_hash_rounds: { type: 'int', default: 12, help: 'bcrypt cost (log2 rounds); Keystone\'s default is 12.' },
    max_password_length: { type: 'int', default: 4096, help: 'Longest password accepted.' },
    list_limit: { type: 'int', default: 0, help: 'Cap on list results (0: none), as Keystone\'s [DEFAULT] list_limit.' },
    policy_file: { type: 'string', default: '', help: 'Operator policy overrides (YAML or JSON, Keystone rule names).' },
    enforce_scope: { type: 'bool', default: false, help: 'Refuse tokens whose scope the rule does not allow (oslo.policy enforce_scope).' },
    enforce_new_defaults: { type: 'bool', default: false, help: 'Ignore deprecated (pre secure-RBAC) rules.' },
    lockout_failure_attempts: { type: 'int', default: 0, help: 'Failed password logins before a user is locked (0: never).' },
    lockout_duration: { type: 'int', default: 1800, help: 'Seconds a locked user stays locked.' },
    password_expires_days: { type: 'int', default: 0, help: 'Days a password is valid (0: forever).' },
    unique_last_password_count: { type: 'int', default: 0, help: 'A new password must differ from this many previous ones (0/1: only from the current).' },
    minimum_password_age: { type: 'int', default: 0, help: 'Days before a user may change its password again.' },
    password_regex: { type: 'string', default: '', help: 'A regular expression new passwords must match.' },
    password_regex_description: { type: 'string', default: '', help: 'What password_regex demands, in words, for the error message.' },
    change_password_upon_first_use: { type: 'bool', default: false, help: 'Users created or reset by an admin must change their password first.' },
    disable_user_account_days_inactive: { type: 'int', default: 0, help: 'Disable users inactive this many days (0: never).' },
  },
  image: {
    port: { type: 'int', default: 9292, help: 'Glance v2 API port.' },
    filesystem_store_datadir: { type: 'string', default: '', help: 'Where the `file` store keeps image data. Empty: data_dir/images.' },
    staging_dir: { type: 'string', default: '', help: 'Where `PUT /v2/images/{id}/stage` keeps data until it is imported (Glance\'s node_staging_uri). Empty: data_dir/image-staging.' },
    enabled_backends: { type: 'list', default: ['file:file', 'http:http'], help: 'Stores, as id:type. Types: file (read-write, under filesystem_store_datadir) and http (read-only, external locations only).' },
    default_backend: { type: 'string', default: 'file', help: 'Store id used for uploads and imports that name none.' },
    image_size_cap: { type: 'int', default: 1099511627776, help: 'Largest image accepted, in bytes (Glance\'s default: 1 TiB); larger uploads get 413.' },
    user_storage_quota: { type: 'int', default: 0, help: 'Bytes of image data (active, saving and staged) a project may store across all stores; 0: unlimited. Over it, uploads get 413.' },
    image_member_quota: { type: 'int', default: 128, help: 'Members an image may have (-1: unlimited).' },
    image_property_quota: { type: 'int', default: 128, help: 'Additional properties an image may have (-1: unlimited).' },
    image_tag_quota: { type: 'int', default: 128, help: 'Tags an image may have (-1: unlimited).' },
    image_location_quota: { type: 'int', default: 10, help: 'Locations an image may have (-1: unlimited).' },
    show_multiple_locations: { type: 'bool', default: false, help: 'Show `locations` and allow changing them through PATCH (Glance\'s deprecated option; it exposes store URLs).' },
    show_image_direct_url: { type: 'bool', default: false, help: 'Show `direct_url`, the first location\'s URL, in image responses.' },
    hashing_algorithm: { type: 'string', default: 'sha512', help: 'os_hash_algo for new image data: sha512, sha384 or sha256.' },
    require_image_format_match: { type: 'bool', default: true, help: 'Refuse (400) data of a `bare` image whose inspected format differs from its disk_format. Unsafe images (qcow2 backing or data files, VMDK extents outside the image...) are always refused.' },
    enabled_import_methods: { type: 'list', default: ['glance-direct', 'web-download', 'copy-image', 'glance-download'], help: 'Import methods offered by POST /v2/images/{id}/import.' },
    web_download_allowed_hosts: { type: 'list', default: ['127.0.0.1', 'localhost', '::1'], help: 'Hosts web-download may fetch from (the whole URL host must be listed); anything else is refused with 400.' },
    web_download_allowed_ports: { type: 'list', default: [], help: 'Ports web-download may use; empty: any port.' },
    upload_idle_timeout: { type: 'int', default: 120, help: 'Seconds an image upload or stage may go without receiving a byte before it is dropped as incomplete (the image goes back to queued, its partial data removed); 0: no limit.' },
    cache_enabled: { type: 'bool', default: true, help: 'Offer the image cache API (/v2/cache, API versions 2.14 and 2.16) and keep cached copies.' },
    download_sendfile: { type: 'string', default: 'auto', help: 'How file-store downloads are sent: auto (sendfile(2) to remote clients, copies through reused buffers to loopback ones, where they are faster), always, never.' },
    cache_dir: { type: 'string', default: '', help: 'Where cached images live. Empty: data_dir/image-cache.' },
    cache_prefetcher_interval: { type: 'int', default: 300, help: 'Seconds between runs of the prefetcher, which copies queued images (PUT /v2/cache/{id}) into the cache; queued images stay listed as queued until then (Glance\'s cache_prefetcher_interval).' },
    limit_param_default: { type: 'int', default: 25, help: 'Images per page when a list names no limit.' },
    api_limit_max: { type: 'int', default: 1000, help: 'Largest page a list returns, whatever the limit asked.' },
    task_time_to_live: { type: 'int', default: 48, help: 'Hours a finished task is kept.' },
    policy_file: { type: 'string', default: '', help: 'Operator policy overrides (YAML or JSON, Glance rule names).' },
    enforce_scope: { type: 'bool', default: false, help: 'Refuse tokens whose scope the rule does not allow (oslo.policy enforce_scope).' },
    enforce_new_defaults: { type: 'bool', default: false, help: 'Use only the secure-RBAC rules (Glance\'s enforce_secure_rbac with oslo.policy enforce_new_defaults).' },
    disk_formats: { type: 'list', default: ['ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop'], help: 'disk_format values accepted (Glance\'s [image_format] disk_formats).' },
    container_formats: { type: 'list', default: ['ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed'], help: 'container_format values accepted (Glance\'s [image_format] container_formats).' },
  },
  placement: {
    port: { type: 'int', default: 8778, help: 'Placement 1.x API port.' },
    policy_file: { type: 'string', default: '', help: 'Operator policy overrides (YAML or JSON, Placement rule names).' },
    enforce_scope: { type: 'bool', default: false, help: 'Refuse tokens whose scope the rule does not allow (oslo.policy enforce_scope).' },
    enforce_new_defaults: { type: 'bool', default: false, help: 'Ignore deprecated (pre secure-RBAC) rules.' },
  },
  network: {
    port: { type: 'int', default: 9696, help: 'Network (Neutron v2.0) API port.' },
    policy_file: { type: 'string', default: '', help: 'Operator policy overrides (YAML or JSON, Neutron rule names).' },
    enforce_scope: { type: 'bool', default: false, help: 'Refuse tokens whose scope the rule does not allow (oslo.policy enforce_scope).' },
    enforce_new_defaults: { type: 'bool', default: false, help: 'Ignore deprecated (pre secure-RBAC) rules.' },
    base_mac: { type: 'string', default: 'fa:16:3e:00:00:00', help: 'MAC prefix of ports: the non-zero octets are kept, the zero ones are random (Neutron\'s base_mac).' },
    mac_generation_retries: { type: 'int', default: 16, help: 'Random MACs tried before a port create fails with MacAddressGenerationFailure.' },
    global_physnet_mtu: { type: 'int', default: 1500, help: 'MTU of the physical networks; a VXLAN network gets it minus 50 (Neutron\'s global_physnet_mtu).' },
    flat_networks: { type: 'list', default: ['*'], help: 'Physical networks flat networks may use (* : any) (ML2 [ml2_type_flat]).' },
    network_vlan_ranges: { type: 'list', default: ['physnet1'], help: 'Physical networks VLAN networks may use, as physnet or physnet:min:max (ML2 [ml2_type_vlan]).' },
    vni_ranges: { type: 'list', default: ['1:1000'], help: 'VXLAN VNIs given to project networks, as min:max (ML2 [ml2_type_vxlan]).' },
    tenant_network_types: { type: 'list', default: ['vxlan'], help: 'Types a project network gets when it names none, first with free segments (ML2 tenant_network_types; local: no segment).' },
    default_availability_zones: { type: 'list', default: [], help: 'availability_zone_hints of a network that names none.' },
    pagination_max_limit: { type: 'int', default: -1, help: 'Largest page a list returns (-1: no limit), as Neutron\'s pagination_max_limit.' },
    max_dns_nameservers: { type: 'int', default: 5, help: 'dns_nameservers a subnet may have.' },
    max_subnet_host_routes: { type: 'int', default: 20, help: 'host_routes a subnet may have.' },
    max_allowed_address_pair: { type: 'int', default: 10, help: 'allowed_address_pairs a port may have.' },
    quota_network: { type: 'int', default: 100, help: 'Networks a project may have (-1: unlimited).' },
    quota_subnet: { type: 'int', default: 100, help: 'Subnets a project may have (-1: unlimited).' },
    quota_port: { type: 'int', default: 500, help: 'Ports a project may have (-1: unlimited).' },
    quota_subnetpool: { type: 'int', default: -1, help: 'Subnet pools a project may have (-1: unlimited).' },
    quota_security_group: { type: 'int', default: 10, help: 'Security groups a project may have (-1: unlimited).' },
    quota_security_group_rule: { type: 'int', default: 100, help: 'Security group rules a project may have (-1: unlimited).' },
    quota_rbac_policy: { type: 'int', default: 10, help: 'RBAC policies a project may have (-1: unlimited).' },
    quota_router: { type: 'int', default: 10, help: 'Routers a project may have (-1: unlimited).' },
    quota_floatingip: { type: 'int', default: 50, help: 'Floating IPs a project may have (-1: unlimited).' },
    run_agent: { type: 'bool', default: true, help: 'Run this host\'s network agent (L2 wiring, security groups, and on a network node DHCP, routers and the metadata proxy) inside this process.' },
    network_node: { type: 'bool', default: true, help: 'Whether this host\'s agent also serves DHCP, routers and metadata (the seed\'s network node; a compute node only wires its ports).' },
    dataplane: { type: 'string', default: '', help: 'The data-plane driver: linuxbridge (bridges, namespaces, dnsmasq, nftables; needs root) or noop (touches nothing). Empty: linuxbridge as root, noop otherwise.' },
    physical_interface_mappings: { type: 'list', default: [], help: 'physnet:interface pairs that attach a physical network to a host interface. Empty (the default): every physical network is an isolated bridge and no host interface is touched.' },
    agent_resync_interval: { type: 'int', default: 30, help: 'Seconds between an agent\'s full resyncs and heartbeats (it also syncs on every change).' },
    agent_down_time: { type: 'int', default: 75, help: 'Seconds without a heartbeat after which an agent is shown dead (alive: false).' },
  },
  compute: {
    port: { type: 'int', default: 8774, help: 'Compute (Nova v2.1) API port.' },
    metadata_port: { type: 'int', default: 8775, help: 'Metadata API port (served to instances through the network service\'s proxy).' },
    metadata_listen: { type: 'string', default: '', help: 'Address the metadata API listens on (Nova\'s metadata_listen). Empty: [DEFAULT] host.' },
    metadata_proxy_shared_secret: { type: 'string', default: '', help: 'Secret the network service\'s metadata proxy signs X-Instance-ID with (HMAC-SHA256, Nova\'s [neutron] metadata_proxy_shared_secret). Empty: made once and kept in data_dir/metadata-proxy-secret (one machine needs no configuration); the metadata API never serves without one.' },
    dhcp_domain: { type: 'string', default: 'novalocal', help: 'Domain appended to instance host names in the metadata and config drive (Nova\'s [api] dhcp_domain). Empty: the bare host name.' },
    vendordata_jsonfile_path: { type: 'string', default: '', help: 'A JSON object served to guests as vendor_data.json and under "static" in vendor_data2.json (Nova\'s [api] vendordata_jsonfile_path, the StaticJSON provider). Empty: {}.' },
    vif_plugging_timeout: { type: 'int', default: 300, help: 'Seconds a build waits for the network service\'s network-vif-plugged event of each new port (Nova\'s vif_plugging_timeout); 0: do not wait.' },
    vif_plugging_is_fatal: { type: 'bool', default: true, help: 'Whether a build whose ports were not reported plugged in time fails (Nova\'s vif_plugging_is_fatal).' },
    novncproxy_port: { type: 'int', default: 6080, help: 'noVNC console proxy port (websocket + the noVNC page).' },
    host: { type: 'string', default: '', help: 'This compute host\'s name (Nova\'s [DEFAULT] host). Empty: the machine\'s host name.' },
    auth_url: { type: 'string', default: '', help: 'On a compute node (`monostack compute-node`): the controller\'s identity API, e.g. http://controller:5000/v3. Empty: this host\'s identity port.' },
    service_user: { type: 'string', default: 'nova', help: 'The service user a compute node authenticates as (in the `service` project).' },
    service_password: { type: 'string', default: '', help: 'Its password (the controller keeps it in DATA_DIR/service-users.json). Empty: read that file from this data_dir.' },
    run_agent: { type: 'bool', default: true, help: 'Run this host\'s compute agent (nova-compute) in this process beside the API; false on a controller without VMs.' },
    compute_driver: { type: 'string', default: 'qemu', help: 'Hypervisor driver of this host: qemu (real VMs: KVM when a probe boot works, TCG otherwise) or fake (no VMs; scale tests).' },
    virt_type: { type: 'string', default: 'auto', help: 'qemu driver acceleration: auto (probe /dev/kvm by a real boot; TCG when the probe fails, and for good once KVM refuses or breaks a guest), kvm (a guest KVM cannot run fails, as in Nova) or tcg.' },
    shutdown_timeout: { type: 'int', default: 60, help: 'Seconds a guest gets to shut down cleanly (ACPI) on stop, soft reboot, resize and rescue before it is powered off (Nova\'s [DEFAULT] shutdown_timeout).' },
    instances_path: { type: 'string', default: '', help: 'Where instance disks, console logs and the base image cache live. Empty: data_dir/instances.' },
    vcpus: { type: 'int', default: 0, help: 'VCPUs this host reports to Placement (0: the machine\'s CPU count; fake driver: 1000).' },
    memory_mb: { type: 'int', default: 0, help: 'Memory in MiB this host reports (0: the machine\'s memory; fake driver: 1048576).' },
    disk_gb: { type: 'int', default: 0, help: 'Disk in GiB this host reports (0: the size of the file system of instances_path; fake driver: 100000).' },
    cpu_allocation_ratio: { type: 'string', default: '16.0', help: 'VCPU overcommit ratio reported to Placement.' },
    ram_allocation_ratio: { type: 'string', default: '1.5', help: 'Memory overcommit ratio reported to Placement.' },
    disk_allocation_ratio: { type: 'string', default: '1.0', help: 'Disk overcommit ratio reported to Placement.' },
    reserved_host_memory_mb: { type: 'int', default: 512, help: 'Memory kept for the host itself (Placement reserved).' },
    reserved_host_disk_mb: { type: 'int', default: 0, help: 'Disk kept for the host itself (Placement reserved).' },
    allow_resize_to_same_host: { type: 'bool', default: true, help: 'Let resize pick the instance\'s own host (Nova\'s default is false; a one-host cloud needs true).' },
    max_list_limit: { type: 'int', default: 1000, help: 'Largest page a list returns (Nova\'s [api] max_limit).' },
    policy_file: { type: 'string', default: '', help: 'Operator policy overrides (YAML or JSON, Nova rule names).' },
    enforce_scope: { type: 'bool', default: false, help: 'Refuse tokens whose scope the rule does not allow (oslo.policy enforce_scope).' },
    enforce_new_defaults: { type: 'bool', default: false, help: 'Ignore deprecated (pre secure-RBAC) rules.' },
  },
  auth_cache: {
    ttl: { type: 'int', default: 300, help: 'Seconds a service keeps a validated token (revocations clear it at once over the bus).' },
    max_entries: { type: 'int', default: 10000, help: 'Validated tokens kept per service.' },
  },
} satisfies Record<string, Record<string, OptDef>>;

type Opts = typeof OPTIONS;
type ValueOf<D> = D extends { type: 'int' } ? number : D extends { type: 'bool' } ? boolean : D extends { type: 'list' } ? string[] : string;
export type Config = { [S in keyof Opts]: { [K in keyof Opts[S]]: ValueOf<Opts[S][K]> } } & { configFile?: string };

function convert(def: OptDef, raw: string, where: string): string | number | boolean | string[] {
  switch (def.type) {
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n)) throw new Error(`${where}: expected an integer, got "${raw}"`);
      return n;
    }
    case 'bool': {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new Error(`${where}: expected true or false, got "${raw}"`);
    }
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter(Boolean);
    default:
      return raw;
  }
}

/** Parses INI text into section -> key -> raw value. `#` and `;` start comments. */
export function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = 'DEFAULT';
  for (const [i, line0] of text.split(/\r?\n/).entries()) {
    const line = line0.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) { section = sec[1]!.trim(); continue; }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`line ${i + 1}: expected "key = value"`);
    (out[section] ??= {})[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

export interface LoadOptions {
  configFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Command-line values, section -> key -> value, already typed. */
  overrides?: Record<string, Record<string, unknown>>;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cfg: Record<string, Record<string, unknown>> = {};
  for (const [s, defs] of Object.entries(OPTIONS)) {
    cfg[s] = {};
    for (const [k, d] of Object.entries(defs as Record<string, OptDef>)) {
      cfg[s]![k] = Array.isArray(d.default) ? [...d.default] : d.default;
    }
  }
  const file = opts.configFile ?? env.MONOSTACK_CONFIG;
  if (file) {
    if (!existsSync(file)) throw new Error(`config file not found: ${file}`);
    const ini = parseIni(readFileSync(file, 'utf8'));
    for (const [s, kv] of Object.entries(ini)) {
      const defs = (OPTIONS as Record<string, Record<string, OptDef>>)[s];
      if (!defs) throw new Error(`${file}: unknown section [${s}]`);
      for (const [k, v] of Object.entries(kv)) {
        const d = defs[k];
        if (!d) throw new Error(`${file}: unknown option ${k} in [${s}]`);
        cfg[s]![k] = convert(d, v, `${file} [${s}] ${k}`);
      }
    }
  }
  for (const [s, defs] of Object.entries(OPTIONS)) {
    for (const [k, d] of Object.entries(defs as Record<string, OptDef>)) {
      const name = `MONOSTACK_${s.toUpperCase()}_${k.toUpperCase()}`;
      const v = env[name];
      if (v !== undefined) cfg[s]![k] = convert(d, v, name);
    }
  }
  for (const [s, kv] of Object.entries(opts.overrides ?? {})) {
    for (const [k, v] of Object.entries(kv)) if (v !== undefined) cfg[s]![k] = v;
  }
  const c = cfg as unknown as Config;
  c.DEFAULT.data_dir = resolve(c.DEFAULT.data_dir || join(homedir(), '.monostack'));
  if (!c.identity.key_repository) c.identity.key_repository = join(c.DEFAULT.data_dir, 'fernet-keys');
  c.configFile = file;
  return c;
}

/** A documented sample config file, generated from OPTIONS. */
export function sampleConfig(): string {
  const lines = ['# monostack configuration. Every option, with its default.', '# Environment overrides: MONOSTACK_<SECTION>_<OPTION>.', ''];
  for (const [s, defs] of Object.entries(OPTIONS)) {
    lines.push(`[${s}]`);
    for (const [k, d] of Object.entries(defs as Record<string, OptDef>)) {
      lines.push(`# ${d.help}`);
      lines.push(`#${k} = ${Array.isArray(d.default) ? d.default.join(',') : String(d.default)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The host name to put in URLs others use to reach us. */
export function advertisedHost(c: Config): string {
  if (c.DEFAULT.public_host) return c.DEFAULT.public_host;
  const h = c.DEFAULT.host;
  return h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h;
}

// IP address management for ports (neutron/ipam/drivers/neutrondb_ipam, reduced): addresses come
// from a subnet's allocation pools, chosen at random among the free ones so concurrent creates
// rarely pick the same; each is a row of neutron_ipallocations whose primary key (subnet_id,
// ip_address) makes a double allocation impossible on every engine. A caller runs allocate()
// inside its write transaction and retries the whole transaction when the insert hits that key
// (another transaction took the address first); once the pools are empty the answer is 409
// IpAddressGenerationFailure. SLAAC / DHCPv6-stateless subnets give EUI-64 addresses from the MAC.

import { randomBytes, randomInt } from 'node:crypto';
import type { Tx } from './store/tx.js';
import { keyed, prepared } from '../common/db/prepared.js';
import { badRequest, conflict, invalidInput, pyRepr } from './api/http.js';
import { contains, eui64, first, formatIp, last, parseCidr, parseIp } from './ipaddr.js';
import { isAutoAddress, type Pool } from './api/subnets.js';

export interface FixedIp { subnet_id: string; ip_address: string }
export interface IpRequest { subnet_id?: string; ip_address?: string }
type SubnetRow = { id: string; network_id: string; cidr: string; ip_version: number; allocation_pools: string; ipv6_address_mode: string | null; created_at: string };

// The statements of every allocation, prepared (common/db/prepared.ts).
const subnetRows = prepared<[string], SubnetRow>((db, networkId) => db.selectFrom('neutron_subnets')
  .select(['id', 'network_id', 'cidr', 'ip_version', 'allocation_pools', 'ipv6_address_mode', 'created_at'])
  .where('network_id', '=', networkId).orderBy('created_at').orderBy('id'));
const takenOf = keyed<number, string[], { ip_address: string }>((n) => (db, subnetId, ...ips) => db.selectFrom('neutron_ipallocations').select('ip_address')
  .where('subnet_id', '=', subnetId).where('ip_address', 'in', ips.slice(0, n)));
const insertAllocation = prepared((db, subnet_id: string, ip_address: string, port_id: string, network_id: string) => db.insertInto('neutron_ipallocations')
  .values({ subnet_id, ip_address, port_id, network_id }));

export async function subnetsOf(trx: Tx, networkId: string): Promise<SubnetRow[]> {
  return (await subnetRows(trx, networkId)).rows;
}

/** Checks the fixed_ips attribute's shape (neutron-lib's validate_fixed_ips). */
export function parseFixedIps(v: unknown): IpRequest[] {
  if (!Array.isArray(v)) throw invalidInput(`Invalid data format for fixed IP: '${pyRepr(v)}'`);
  const out: IpRequest[] = [];
  for (const f of v) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) throw invalidInput(`Invalid data format for fixed IP: '${pyRepr(f)}'`);
    const { subnet_id, ip_address, ...rest } = f as Record<string, unknown>;
    if (Object.keys(rest).length) throw invalidInput(`Invalid data format for fixed IP: '${pyRepr(f)}'`);
    const r: IpRequest = {};
    if (ip_address !== undefined) {
      const ip = parseIp(ip_address);
      if (!ip) throw invalidInput(`'${pyRepr(ip_address)}' is not a valid IP address`);
      r.ip_address = formatIp(ip);
    }
    if (subnet_id !== undefined) {
      if (typeof subnet_id !== 'string') throw invalidInput(`'${pyRepr(subnet_id)}' is not a valid UUID`);
      r.subnet_id = subnet_id;
    }
    if (r.ip_address && out.some((o) => o.ip_address === r.ip_address)) throw invalidInput(`Duplicate IP address '${r.ip_address}'`);
    out.push(r);
  }
  return out;
}

/** The window of free addresses a full scan picks from at random (neutrondb_ipam's MAX_WIN). */
const MAX_WIN = 1000;
/** Random addresses probed per statement, and statements, before a sparse pick gives up and scans. */
const PROBES = 16;
const PROBE_ROUNDS = 3;

/**
 * A free address of the subnet's pools, or undefined when they are exhausted. While the pools are
 * sparse a few random addresses are probed with one indexed statement (the cost does not grow with
 * the ports on the subnet); when the probes keep hitting taken addresses, the allocations are read
 * and a free address is chosen at random among the first MAX_WIN free ones, as Neutron does.
 */
async function pickFree(trx: Tx, s: SubnetRow): Promise<string | undefined> {
  const version = Number(s.ip_version) as 4 | 6;
  const pools = (JSON.parse(s.allocation_pools) as Pool[]).map((p) => ({ start: parseIp(p.start)!.value, end: parseIp(p.end)!.value }));
  const total = pools.reduce((n, p) => n + (p.end - p.start + 1n), 0n);
  if (total > BigInt(PROBES * 4)) {
    for (let round = 0; round < PROBE_ROUNDS; round++) {
      const cands = new Set<string>();
      for (let i = 0; i < PROBES * 2 && cands.size < PROBES; i++) cands.add(formatIp({ version, value: poolAddress(pools, randomBigInt(total)) }));
      const list = [...cands];
      const taken = new Set((await takenOf(list.length)(trx, s.id, ...list)).rows.map((r) => r.ip_address));
      const free = list.find((a) => !taken.has(a));
      if (free) return free;
    }
  }
  const rows = (await trx.selectFrom('neutron_ipallocations').select('ip_address').where('subnet_id', '=', s.id).execute()) as { ip_address: string }[];
  const used = new Set(rows.map((r) => r.ip_address));
  const cands: string[] = [];
  for (const p of pools) {
    for (let v = p.start; v <= p.end && cands.length < MAX_WIN; v++) {
      const t = formatIp({ version, value: v });
      if (!used.has(t)) cands.push(t);
    }
    if (cands.length >= MAX_WIN) break;
  }
  if (!cands.length) return undefined;
  return cands[randomInt(cands.length)];
}

/** The address at offset `i` of the pools taken one after the other. */
function poolAddress(pools: { start: bigint; end: bigint }[], i: bigint): bigint {
  for (const p of pools) {
    const n = p.end - p.start + 1n;
    if (i < n) return p.start + i;
    i -= n;
  }
  throw new Error('offset outside the pools');
}

/** A uniform random integer in [0, n). */
function randomBigInt(n: bigint): bigint {
  if (n <= 0xffffffffffffn) return BigInt(randomInt(Number(n)));
  const bytes = Math.ceil(n.toString(16).length / 2) + 8; // 64 spare bits make the modulo bias negligible
  return BigInt('0x' + randomBytes(bytes).toString('hex')) % n;
}

export function exhausted(networkId: string) {
  return conflict('IpAddressGenerationFailure', `No more IP addresses available on network ${networkId}.`);
}

/**
 * Allocates the port's addresses. `requests` undefined means "not specified": one address from the
 * first IPv4 subnet with room, one from the first stateful IPv6 subnet, and the EUI-64 address of
 * every SLAAC subnet (Neutron's default). Returns the rows to insert (already inserted).
 */
export async function allocate(trx: Tx, networkId: string, portId: string, mac: string, requests: IpRequest[] | undefined, isRouterPort = false): Promise<FixedIp[]> {
  const subnets = await subnetsOf(trx, networkId);
  const out: FixedIp[] = [];
  const add = async (subnetId: string, ip: string) => {
    out.push({ subnet_id: subnetId, ip_address: ip });
    await insertAllocation(trx, subnetId, ip, portId, networkId);
  };
  if (requests === undefined) {
    for (const version of [4, 6] as const) {
      const stateful = subnets.filter((s) => Number(s.ip_version) === version && !isAutoAddress(s));
      if (stateful.length) {
        let done = false;
        for (const s of stateful) {
          const ip = await pickFree(trx, s);
          if (ip) { await add(s.id, ip); done = true; break; }
        }
        if (!done) throw exhausted(networkId);
      }
    }
    if (!isRouterPort) for (const s of subnets.filter((x) => isAutoAddress(x))) await add(s.id, eui64(parseCidr(s.cidr)!, mac));
    return inPortOrder(out, subnets);
  }
  for (const r of requests) {
    let s: SubnetRow | undefined;
    if (r.subnet_id) {
      s = subnets.find((x) => x.id === r.subnet_id);
      if (!s) {
        throw invalidInput(`Failed to create port on network ${networkId}, because fixed_ips included invalid subnet ${r.subnet_id}`);
      }
    }
    if (r.ip_address) {
      const ip = parseIp(r.ip_address)!;
      if (s) {
        if (!contains(parseCidr(s.cidr)!, ip) || !validHost(s, ip.value)) throw badRequest(`IP address ${r.ip_address} is not a valid IP for the specified subnet.`, 'InvalidIpForSubnet');
      } else {
        s = subnets.find((x) => contains(parseCidr(x.cidr)!, ip));
        if (!s || !validHost(s, ip.value)) throw badRequest(`IP address ${r.ip_address} is not a valid IP for any of the subnets on the specified network.`, 'InvalidIpForNetwork');
      }
      if (isAutoAddress(s) && !isRouterPort) {
        throw invalidInput(`IPv6 address ${r.ip_address} cannot be directly assigned to a port on subnet ${s.id} as the subnet is configured for automatic addresses`);
      }
      const taken = await trx.selectFrom('neutron_ipallocations').select('port_id').where('subnet_id', '=', s.id).where('ip_address', '=', r.ip_address).executeTakeFirst();
      if (taken) throw conflict('IpAddressAlreadyAllocated', `IP address ${r.ip_address} already allocated in subnet ${s.id}`);
      await add(s.id, r.ip_address);
    } else if (s) {
      if (isAutoAddress(s) && !isRouterPort) { await add(s.id, eui64(parseCidr(s.cidr)!, mac)); continue; }
      const ip = await pickFree(trx, s);
      if (!ip) throw exhausted(networkId);
      await add(s.id, ip);
    } else {
      throw invalidInput(`Invalid data format for fixed IP: '{}'`);
    }
  }
  return inPortOrder(out, subnets);
}

/** A port's fixed_ips in the order its API shows them: IPv4 first, then by subnet age, then address. */
export function compareFixedIps(x: { ip_version: number | string; created_at: string; ip_address: string }, y: typeof x): number {
  return Number(x.ip_version) - Number(y.ip_version) || (x.created_at < y.created_at ? -1 : x.created_at > y.created_at ? 1 : 0) || (x.ip_address < y.ip_address ? -1 : 1);
}

function inPortOrder(fixed: FixedIp[], subnets: SubnetRow[]): FixedIp[] {
  const byId = new Map(subnets.map((s) => [s.id, s]));
  const key = (f: FixedIp) => ({ ip_version: byId.get(f.subnet_id)!.ip_version, created_at: byId.get(f.subnet_id)!.created_at, ip_address: f.ip_address });
  return fixed.map((f) => ({ f, k: key(f) })).sort((a, b) => compareFixedIps(a.k, b.k)).map((x) => x.f);
}

/** Not the network address (and, for IPv4, not the broadcast address) of a subnet. */
function validHost(s: SubnetRow, v: bigint): boolean {
  const c = parseCidr(s.cidr)!;
  if (c.version === 4 && c.prefix < 31) return v !== first(c) && v !== last(c);
  if (c.version === 6 && c.prefix < 127) return v !== first(c);
  return true;
}

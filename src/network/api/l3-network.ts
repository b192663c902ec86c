// What the L3 area does when a network is deleted (Neutron's L3 plugin on NETWORK BEFORE_DELETE,
// delete_disassociated_floatingips): the floating IPs of an external network that are not
// associated with a port go with it, with their ports; associated ones keep it in use. And a
// network that carries router gateways cannot stop being external (ExternalNetworkInUse).

import type { Tx } from '../store/tx.js';
import { conflict } from './http.js';

export async function checkNoGatewayPorts(trx: Tx, networkId: string): Promise<void> {
  const gw = await trx.selectFrom('neutron_ports').select('id').where('network_id', '=', networkId).where('device_owner', '=', 'network:router_gateway').executeTakeFirst();
  if (gw) throw conflict('ExternalNetworkInUse', `External network ${networkId} cannot be updated to be made non-external, since it has existing gateway ports.`);
}

export async function deleteDisassociatedFloatingIps(trx: Tx, networkId: string): Promise<void> {
  const rows = (await trx.selectFrom('neutron_floatingips as f').leftJoin('neutron_ports as p', 'p.id', 'f.fixed_port_id')
    .select(['f.id', 'f.floating_port_id', 'p.id as live_port']).where('f.floating_network_id', '=', networkId).execute()) as { id: string; floating_port_id: string; live_port: string | null }[];
  for (const r of rows.filter((x) => !x.live_port)) {
    await trx.deleteFrom('neutron_ipallocations').where('port_id', '=', r.floating_port_id).execute();
    await trx.deleteFrom('neutron_ports').where('id', '=', r.floating_port_id).execute();
    await trx.deleteFrom('neutron_tags').where('resource_type', '=', 'floatingips').where('resource_id', '=', r.id).execute();
    await trx.deleteFrom('neutron_floatingips').where('id', '=', r.id).execute();
  }
}

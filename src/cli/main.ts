// The `monostack` command: `up` runs the cloud; the rest are operator tools.

import { Command } from 'commander';
import { sampleConfig } from '../common/config.js';
import { upCommand, bootstrapCommand, fernetCommand, computeNodeCommand } from './commands.js';

const program = new Command();
program.name('monostack').description('An OpenStack-compatible cloud in one command.').version('0.1.0');

const common = (c: Command) => c
  .option('--data-dir <dir>', 'state directory (default ~/.monostack)')
  .option('--config <file>', 'configuration file (INI); MONOSTACK_CONFIG also works')
  .option('--db <url>', 'database URL: sqlite:, postgres://..., mysql://...');

common(program.command('up'))
  .description('start every enabled service in this process; create and migrate the database and bootstrap on first start')
  .option('--host <addr>', 'address to listen on and advertise')
  .option('--public-host <name>', 'host name for catalog URLs when it differs from --host')
  .option('--admin-password <pw>', 'bootstrap admin password (default: generated on first start, kept in DATA_DIR/openrc)')
  .option('--port <n>', 'identity port (default 5000)')
  .option('--admin-port <n>', 'legacy identity admin port (default 35357, 0 disables)')
  .action(async (o) => { await upCommand(o); });

common(program.command('compute-node'))
  .description('run only this host\'s compute agent, joined to a controller through its database and RabbitMQ ([DEFAULT] transport_url)')
  .option('--compute-host <name>', 'this compute host\'s name (default: the machine\'s host name)')
  .option('--auth-url <url>', 'the controller\'s identity API, e.g. http://controller:5000/v3')
  .action(async (o) => { await computeNodeCommand(o); });

common(program.command('bootstrap'))
  .description('what keystone-manage bootstrap does: default domain, admin project/user/roles, region, identity endpoints')
  .option('--host <addr>', 'address for the identity endpoints')
  .option('--public-host <name>', 'host name for catalog URLs')
  .requiredOption('--bootstrap-password <pw>', 'admin password')
  .option('--bootstrap-username <name>', 'admin user name', 'admin')
  .option('--bootstrap-project-name <name>', 'admin project name', 'admin')
  .option('--bootstrap-role-name <name>', 'admin role name', 'admin')
  .option('--bootstrap-region-id <id>', 'region', 'RegionOne')
  .option('--bootstrap-public-url <url>')
  .option('--bootstrap-internal-url <url>')
  .option('--bootstrap-admin-url <url>')
  .action(async (o) => { await bootstrapCommand(o); });

const fernet = program.command('fernet').description('Fernet key repository (as keystone-manage fernet_setup/fernet_rotate)');
common(fernet.command('setup')).description('create the key repository if missing').action(async (o) => { await fernetCommand('setup', o); });
common(fernet.command('rotate')).description('promote the staged key to primary, stage a new key, purge old ones').action(async (o) => { await fernetCommand('rotate', o); });

const config = program.command('config').description('configuration');
config.command('sample').description('print a documented configuration file with every option and its default').action(() => { process.stdout.write(sampleConfig()); });

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`monostack: ${(e as Error).message}\n`);
  process.exitCode = 1;
});

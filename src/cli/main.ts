import { Command, CommanderError } from 'commander';
import { registerCheckCommands } from './commands/check.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerDrainCommands } from './commands/drain.js';
import { registerEvacuateCommands } from './commands/evacuate.js';
import { registerHostCommands } from './commands/host.js';
import { registerImportCommands } from './commands/import.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { registerFenceCommands } from './commands/fence.js';
import { registerHaCommands } from './commands/ha.js';
import { registerNotifyCommands } from './commands/notify.js';
import { registerRunCommand } from './commands/run.js';
import { registerSimCommand } from './commands/sim.js';
import { collect, EXIT_CODES_HELP, setCliFlags, setConfigLocation } from './context.js';
import { version } from './version.js';

/** Builds the command tree. Each command lives in its own module under commands/ and exists only when it works. */
export function buildProgram(): Command {
  const program = new Command('cmpha')
    .description('High-availability controller for OpenStack compute nodes: detect, fence, evacuate, verify, notify')
    .version(version(), '-V, --version')
    .option('--config <path>', 'config file for any command; repeat for several, later ones override earlier ones (default: $CMPHA_CONFIG or /etc/cmpha/cmpha.conf; incidents and resume: /etc/cmpha/cmpha-ops.conf first)', collect)
    .option('--config-dir <dir>', 'read every *.conf in DIR in name order, after the config files; repeatable', collect, [])
    .option('--log-level <level>', 'debug | info | warn | error | silent (overrides [logging] level)')
    .option('-v, --verbose', 'one-shot commands log at the [logging] level instead of warn on a terminal')
    .option('--no-color', 'no colour in logs (as NO_COLOR=1)')
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', () => {
    const o = program.opts<{ logLevel?: string; verbose?: boolean; color?: boolean; config?: string[]; configDir: string[] }>();
    setConfigLocation(o.config ?? [], o.configDir);
    const level = o.logLevel;
    if (level !== undefined && !['debug', 'info', 'warn', 'error', 'silent'].includes(level)) {
      throw new CommanderError(2, 'cmpha.badLogLevel', `--log-level: "${level}" is not one of debug, info, warn, error, silent`);
    }
    setCliFlags({ ...(level !== undefined ? { level: level as 'debug' } : {}), verbose: o.verbose === true, noColor: o.color === false });
  });
  registerRunCommand(program);
  registerConfigCommands(program);
  registerDemoCommand(program);
  registerCheckCommands(program);
  registerFenceCommands(program);
  // notify before incidents: incidents adds the deprecated `notify ack` alias to it.
  registerNotifyCommands(program);
  registerIncidentCommands(program);
  registerEvacuateCommands(program);
  registerDrainCommands(program);
  registerHostCommands(program);
  registerHaCommands(program);
  registerDoctorCommand(program);
  registerSimCommand(program);
  registerImportCommands(program);
  const leaves = (c: Command): Command[] => (c.commands.length === 0 ? [c] : c.commands.flatMap(leaves));
  for (const c of program.commands.flatMap(leaves)) c.addHelpText('after', EXIT_CODES_HELP);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      if (err.code === 'cmpha.badLogLevel') process.stderr.write(`cmpha: ${err.message}\n`);
      if (err.code === 'cmpha.badColumn') process.stderr.write(`${err.message}\n`);
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

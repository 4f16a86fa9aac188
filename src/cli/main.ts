import { Command, CommanderError } from 'commander';
import { registerCheckCommands } from './commands/check.js';
import { registerConfigCommands } from './commands/config.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDoctorCommand } from './commands/doctor.js';
import { registerDrainCommands } from './commands/drain.js';
import { registerEvacuateCommands } from './commands/evacuate.js';
import { registerHostCommands } from './commands/host.js';
import { registerIncidentCommands } from './commands/incidents.js';
import { registerFenceCommands } from './commands/fence.js';
import { registerNotifyCommands } from './commands/notify.js';
import { registerRunCommand } from './commands/run.js';
import { registerSimCommand } from './commands/sim.js';
import { collect, setConfigLocation, setLogLevelOverride } from './context.js';
import { version } from './version.js';

/** Builds the command tree. Each command lives in its own module under commands/ and exists only when it works. */
export function buildProgram(): Command {
  const program = new Command('cmpha')
    .description('High-availability controller for OpenStack compute nodes: detect, fence, evacuate, verify, notify')
    .version(version(), '-V, --version')
    .option('--log-level <level>', 'debug | info | warn | error | silent (overrides [logging] level)')
    .option('--config-file <path>', 'config file; repeat for several, later ones override earlier ones', collect, [])
    .option('--config-dir <dir>', 'read every *.conf in DIR in name order, after the config files; repeatable', collect, [])
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', () => {
    const { configFile, configDir } = program.opts<{ configFile: string[]; configDir: string[] }>();
    setConfigLocation(configFile, configDir);
    const level = program.opts<{ logLevel?: string }>().logLevel;
    if (level !== undefined) {
      if (!['debug', 'info', 'warn', 'error', 'silent'].includes(level)) throw new CommanderError(2, 'cmpha.badLogLevel', `--log-level: "${level}" is not one of debug, info, warn, error, silent`);
      setLogLevelOverride(level as 'debug');
    }
  });
  registerRunCommand(program);
  registerConfigCommands(program);
  registerDemoCommand(program);
  registerCheckCommands(program);
  registerFenceCommands(program);
  registerIncidentCommands(program);
  registerEvacuateCommands(program);
  registerDrainCommands(program);
  registerHostCommands(program);
  registerNotifyCommands(program);
  registerDoctorCommand(program);
  registerSimCommand(program);
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
      return err.exitCode === 0 ? 0 : 2;
    }
    throw err;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : 0;
}

// Runs `cmpha sim` the way the CLI does, for tests that start the simulator as its own process.
import { Command } from 'commander';
import { registerSimCommand } from '../../../src/cli/commands/sim.js';

const program = new Command('cmpha');
registerSimCommand(program);
await program.parseAsync(process.argv);

import type { Command } from 'commander';
import type { Config } from '../../config/types.js';
import type { FenceDriver } from '../../fencing/types.js';
import { IncidentStore } from '../../incidents/incident-store.js';
import type { ComputeBackend } from '../../compute/types.js';
import { createStorageFence } from '../../fencing/fence-plan.js';
import { restoreHost, type StorageUnfence } from '../../pipeline/restore-host.js';
import { fenceDriversFromConfig } from '../../app/fence-parts.js';
import { errorMessage } from '../../shared/errors.js';
import { parseDuration } from '../../shared/duration.js';
import type { Logger } from '../../shared/logger.js';
import { sleep, systemClock } from '../../shared/time.js';
import { mgmtAddressOf } from '../../detector/mgmt-addresses.js';
import { remediationFor } from '../../remediation/agent-remediator.js';
import { describeHeal, healAgent } from '../../remediation/heal-agent.js';
import { runCommand, type CommandRunner } from '../../shared/run-command.js';
import { configPathOf, createCliCompute, createCliLogger, EXIT_CONFIG, loadFencingCliConfig, withConfigOption, type ConfigPaths } from '../context.js';
import { onlyChanges, outputOptions, renderOne, withOutputOptions } from '../output.js';
import { connectRedis } from './incidents.js';

export interface HostCliDeps {
  loadConfig(path?: ConfigPaths): Promise<Config>;
  createLogger(config: Config): Logger;
  compute(config: Config, logger: Logger): ComputeBackend;
  fenceDriver(config: Config, host: string, logger: Logger): FenceDriver | null;
  /** The host's storage blocklist, where it has storage_ips on the configured Ceph. */
  storage(config: Config, host: string): StorageUnfence | undefined;
  /** The id of the host's open incident, if any. */
  openIncident(config: Config, host: string): Promise<string | null>;
  /** Runs a remediation command (tests replace it). */
  run?: CommandRunner;
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
}

const defaultDeps: HostCliDeps = {
  loadConfig: loadFencingCliConfig,
  createLogger: createCliLogger,
  compute: createCliCompute,
  fenceDriver: (config, host, logger) => fenceDriversFromConfig(config, logger)(host),
  storage: storageUnfence,
  openIncident: async (config, host) => {
    const redis = await connectRedis(config);
    try {
      return await new IncidentStore(redis, config.redis.prefix).openIncidentFor(host);
    } finally {
      redis.disconnect();
    }
  },
  stdout: (t) => { process.stdout.write(t); },
  stderr: (t) => { process.stderr.write(t); },
  setExitCode: (c) => { process.exitCode = c; },
};

export function storageUnfence(config: Config, host: string): StorageUnfence | undefined {
  const ips = config.hosts[host]?.storageIps ?? [];
  if (!config.ceph || ips.length === 0) return undefined;
  const fence = createStorageFence(config.ceph, config.fencing);
  return {
    listed: (signal) => fence.listed(ips, signal),
    remove: async (signal) => (await fence.unfence(ips, signal)).remaining,
  };
}

/** `cmpha host restore HOST [--power-on] [--as-spare] [--unfence-storage [--power-cycled]] --yes`, `cmpha host heal HOST --yes`. */
export function registerHostCommands(program: Command, overrides: Partial<HostCliDeps> = {}): void {
  const deps: HostCliDeps = { ...defaultDeps, ...overrides };
  const host = program.command('host').description('bring repaired compute hosts back');
  withConfigOption(withOutputOptions(host
    .command('restore')
    .description('return a repaired host to service: (power on), wait for nova-compute to clean up, unset forced_down, wait for it to be up, enable it (or keep it as a spare)')
    .argument('<host>', 'the repaired compute host')
    .option('--power-on', 'power it on through its BMC first')
    .option('--as-spare', `keep it disabled as a reserved spare instead of enabling it`)
    .option('--unfence-storage', 'remove its Ceph blocklist (blocklist rm of its storage_ips) once it was power-cycled')
    .option('--power-cycled', 'with --unfence-storage: you power-cycled the host yourself (cmpha did not see it off)')
    .option('--yes', 'really change the host')
    .option('--wait <duration>', 'give up each wait after this long', '10m'), { json: true }))
    .action(async (name: string, opts: { powerOn?: boolean; asSpare?: boolean; unfenceStorage?: boolean; powerCycled?: boolean; yes?: boolean; wait: string; config?: string; json?: boolean; format?: string; column?: string[] }) => {
      const out = outputOptions(opts);
      const machine = out.format !== 'table';
      if (!opts.yes) {
        deps.stderr(`cmpha host restore: refusing without --yes: ${name} is returned to service${opts.powerOn ? ' and powered on' : ''}\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const waitMs = parseDuration(opts.wait);
      if (waitMs === undefined) {
        deps.stderr(`cmpha host restore: --wait "${opts.wait}" is not a duration (use e.g. 10m, 90s)\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPathOf(program, opts));
      const logger = deps.createLogger(config);
      try {
        const open = await deps.openIncident(config, name);
        if (open) {
          deps.stderr(`cmpha host restore: ${name} still has an open incident ${open}; wait until it closes (cmpha incidents show ${open})\n`);
          deps.setExitCode(1);
          return;
        }
        const result = await restoreHost(
          {
            compute: deps.compute(config, logger),
            fenceDriver: opts.powerOn ? deps.fenceDriver(config, name, logger) : null,
            clock: systemClock, sleep,
            // A wait polls: print a line when what it says changes, not on every poll.
            progress: onlyChanges((l) => { if (!machine) deps.stdout(`${new Date().toISOString()}  ${l}\n`); }),
            ...optional('storage', deps.storage(config, name)),
          },
          {
            host: name, powerOn: opts.powerOn === true, asSpare: opts.asSpare === true, spareReasonPrefix: config.evacuation.spareReasonPrefix,
            waitTimeoutMs: waitMs, pollIntervalMs: Math.min(config.evacuation.verifyPollIntervalMs, 2000),
            unfenceStorage: opts.unfenceStorage === true, powerCycled: opts.powerCycled === true,
          },
        );
        if (machine) deps.stdout(renderOne({ host: name, status: result.status }, out));
        else deps.stdout(`${name}: back in service as ${result.status === 'spare' ? 'a spare (disabled)' : 'an enabled compute host'}\n`);
        deps.setExitCode(0);
      } catch (err) {
        deps.stderr(`cmpha host restore: ${errorMessage(err)}\n`);
        deps.setExitCode(1);
      }
    });
  withConfigOption(host
    .command('heal')
    .description('restart nova-compute on a live host with the configured remediation command ([remediation] or [host:NAME] agent_command) and wait for Nova\'s heartbeat; never fences, never evacuates')
    .argument('<host>', 'the compute host whose nova-compute stopped reporting')
    .option('--yes', 'really run the command'))
    .action(async (name: string, opts: { yes?: boolean; config?: string }) => {
      if (!opts.yes) {
        deps.stderr(`cmpha host heal: refusing without --yes: the remediation command runs against ${name}\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      const config = await deps.loadConfig(configPathOf(program, opts));
      const logger = deps.createLogger(config);
      const r = remediationFor(config, name);
      if (!r) {
        deps.stderr(`cmpha host heal: no remediation command for ${name}: set [remediation] agent_command or [host:${name}] agent_command\n`);
        deps.setExitCode(EXIT_CONFIG);
        return;
      }
      try {
        const compute = deps.compute(config, logger);
        const configured = config.hosts[name]?.mgmtIp;
        const hv = configured ? undefined : (await compute.hostAddresses()).get(name);
        const result = await healAgent({ heartbeats: compute, run: deps.run ?? runCommand, clock: systemClock, sleep }, name, mgmtAddressOf(configured, hv).ip, r);
        (result.ok ? deps.stdout : deps.stderr)(`${describeHeal(result)}\n`);
        deps.setExitCode(result.ok ? 0 : 1);
      } catch (err) {
        deps.stderr(`cmpha host heal: ${errorMessage(err)}\n`);
        deps.setExitCode(1);
      }
    });
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

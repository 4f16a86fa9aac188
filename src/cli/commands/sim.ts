import { InvalidArgumentError, type Command } from 'commander';
import { createLogger } from '../../shared/logger.js';
import { runSim, type SimOptions } from '../../sim/index.js';
import { CmphaError } from '../../shared/errors.js';

function wholeNumber(name: string) {
  return (text: string): number => {
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`${name} must be a whole number`);
    return Number(text);
  };
}

function faultsJson(text: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch {
    throw new InvalidArgumentError('--faults must be a JSON object such as {"errorRate":0.1,"latencyMs":50}');
  }
}

function seconds(name: string) {
  return (text: string): number => {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number of seconds >= 0`);
    return n;
  };
}

interface SimCliOptions {
  listen: string;
  hosts: number;
  instancesPerHost: number;
  spares: number;
  serviceDownTime: number;
  reportInterval: number;
  evacuateSeconds: number;
  seed: number;
  tokenTtl: number;
  netns?: boolean;
  ipBlock: number;
  rpcTimeout: number;
  faults?: Record<string, unknown>;
  cloud: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

/** `cmpha sim`: a simulated OpenStack cloud (Keystone, Nova, Neutron, Redfish BMCs) for demos and tests. */
export function registerSimCommand(program: Command): void {
  program
    .command('sim')
    .description('run a simulated OpenStack cloud (Keystone, Nova, Neutron, Redfish) on loopback; prints one JSON line with its URLs and config')
    .option('--listen <host:port>', 'loopback address to listen on (port 0 picks a free one)', '127.0.0.1:0')
    .option('--hosts <n>', 'compute hosts (compute1..computeN)', wholeNumber('--hosts'), 4)
    .option('--instances-per-host <m>', 'servers per compute host', wholeNumber('--instances-per-host'), 5)
    .option('--spares <k>', 'spare hosts (spare1..spareK, disabled with reason down_prepare)', wholeNumber('--spares'), 1)
    .option('--service-down-time <seconds>', "Nova's service_down_time", seconds('--service-down-time'), 60)
    .option('--report-interval <seconds>', "nova-compute's report_interval", seconds('--report-interval'), 10)
    .option('--evacuate-seconds <s>', 'how long one evacuation rebuild takes', seconds('--evacuate-seconds'), 5)
    .option('--seed <n>', 'seed for the generated world', wholeNumber('--seed'), 1)
    .option('--token-ttl <s>', 'Keystone token lifetime', seconds('--token-ttl'), 3600)
    .option('--rpc-timeout <s>', "nova-api's RPC timeout towards a dead compute not yet seen down", seconds('--rpc-timeout'), 60)
    .option('--ip-block <n>', 'shift every 198.18.0.0/15 address by N /24s (two --netns worlds on one machine)', wholeNumber('--ip-block'), 0)
    .option('--faults <json>', 'initial fault injection, as POST /sim/faults takes it: {"errorRate","latencyMs","dropRate","dropAfterRate","services"}', faultsJson)
    .option('--cloud <type>', 'openstack (Keystone, Nova, Neutron, Placement, Cinder) or cloudpods (a Cloudpods region: Keystone-v3 identity and compute_v2)', 'openstack')
    .option('--netns', 'put hosts and server addresses in network namespaces (root only, at most 64 hosts)')
    .option('--log-level <level>', 'log level on stderr', 'warn')
    .action(async (opts: SimCliOptions) => {
      const logger = createLogger({ level: opts.logLevel });
      if (opts.cloud !== 'openstack' && opts.cloud !== 'cloudpods') throw new CmphaError('usage', `--cloud must be openstack or cloudpods (got ${opts.cloud})`);
      const options: SimOptions = {
        cloud: opts.cloud,
        listen: opts.listen,
        hosts: opts.hosts,
        instancesPerHost: opts.instancesPerHost,
        spares: opts.spares,
        serviceDownTimeSeconds: opts.serviceDownTime,
        reportIntervalSeconds: opts.reportInterval,
        evacuateSeconds: opts.evacuateSeconds,
        seed: opts.seed,
        tokenTtlSeconds: opts.tokenTtl,
        rpcTimeoutSeconds: opts.rpcTimeout,
        ipBlock: opts.ipBlock,
        netns: opts.netns === true,
        ...(opts.faults ? { faults: opts.faults as SimOptions['faults'] } : {}),
        logger,
      };
      const sim = await runSim(options);
      process.stdout.write(`${JSON.stringify({ auth_url: sim.authUrl, control_url: sim.controlUrl, config: sim.configPath })}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: NodeJS.Signals) => {
          logger.info({ signal }, 'stopping the simulated cloud');
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await sim.close();
    });
}

import type { DetectorConfig } from '../config/types.js';
import { CmphaError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { CommandRunner } from '../shared/run-command.js';
import { createFpingProber } from './fping-prober.js';
import { createSimProber } from './sim-prober.js';
import type { Prober } from './types.js';

/** The prober `[detector] probe` names: real fping, or the simulator's answers. */
export function createProber(config: DetectorConfig, deps: { logger: Logger; run?: CommandRunner }): Prober {
  if (config.probe === 'sim') {
    if (!config.simUrl) throw new CmphaError('config_invalid', '[detector] probe = sim needs [detector] sim_url');
    return createSimProber({ simUrl: config.simUrl, timeoutMs: Math.max(2000, config.probeTimeoutMs * config.probeCount + 1000) });
  }
  return createFpingProber(config, deps);
}

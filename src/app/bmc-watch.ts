import type { Config } from '../config/types.js';
import type { RoundReport } from '../detector/types.js';
import { checkAllFencing } from '../fencing/check-fencing.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { isUnfencedDevice } from '../fencing/devices/registry.js';

/** A BMC's power state is read (never changed) this often, to know which hosts could be fenced now. */
const FENCING_CHECK_MS = 5 * 60_000;

export interface BmcWatch {
  /** Hosts whose BMC did not answer its last status read. */
  readonly broken: () => ReadonlySet<string>;
  stop(): void;
}

/** Reads every configured BMC's power state now and every FENCING_CHECK_MS, warning about each that would not fence. */
export function watchBmcs(config: Config, logger: Logger): BmcWatch {
  let broken: ReadonlySet<string> = new Set<string>();
  const check = async () => {
    try {
      const statuses = await checkAllFencing(Object.values(config.hosts).filter((h) => h.fence.driver !== 'none'), config.fencing, { logger });
      broken = new Set(statuses.filter((st) => !st.works && !isUnfencedDevice(st.driver)).map((st) => st.host));
      for (const st of statuses) if (!st.works && !isUnfencedDevice(st.driver)) logger.warn({ host: st.host, bmc: st.bmc, code: st.code, note: st.note }, 'fencing would not work for this host now');
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'BMC status check failed');
    }
  };
  void check();
  const timer = setInterval(() => { void check(); }, FENCING_CHECK_MS);
  timer.unref();
  return { broken: () => broken, stop: () => clearInterval(timer) };
}

/**
 * Enabled hosts cmpha could not fence now: no driver configured, or a BMC that did not answer its last status
 * read. They would never be evacuated. "No driver" is read from the config (a host without a section, or
 * driver = none, is what gets no driver), not by building every host's driver each round.
 */
export function countUnfenceable(report: RoundReport, hosts: Config['hosts'], broken: ReadonlySet<string>): number {
  return report.hosts.filter((h) => h.verdict !== 'maintenance' && ((hosts[h.host]?.fence.driver ?? 'none') === 'none' || broken.has(h.host))).length;
}

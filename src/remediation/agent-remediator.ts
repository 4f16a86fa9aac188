import type { Config } from '../config/types.js';
import type { NotificationEvent, NotificationService } from '../notifier/types.js';
import type { HeartbeatSource } from '../compute/types.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { runCommand, type CommandRunner } from '../shared/run-command.js';
import { sleep as realSleep, systemClock, type Clock } from '../shared/time.js';
import { describeHeal, healAgent, type AgentRemediation, type HealResult } from './heal-agent.js';

/** The host's remediation: its own command, else the global one; null when neither is configured. */
export function remediationFor(config: Pick<Config, 'hosts' | 'remediation'>, host: string): AgentRemediation | null {
  const command = config.hosts[host]?.agentCommand ?? config.remediation.agentCommand;
  if (!command) return null;
  const r = config.remediation;
  return { command, timeoutMs: r.timeoutMs, tries: r.tries, retryDelayMs: r.retryDelayMs, heartbeatWaitMs: r.heartbeatWaitMs };
}

export interface AgentRemediator {
  /** Whether `host` has a remediation command. */
  handles(host: string): boolean;
  /**
   * Starts healing `host` in the background (once at a time per host) and returns at once, so a detector
   * round is never held up. When it fails, `alert` is sent with the command's output added. False when one was
   * already running for the host (or none can run); `onDone` hears how a started one ended.
   */
  start(host: string, mgmtIp: string | null, alert: NotificationEvent, onDone?: (healed: boolean, reason: string) => void): boolean;
  /** Resolves when every started remediation has ended (tests, shutdown). */
  idle(): Promise<void>;
  /** Aborts running remediations and waits for them. */
  stop(): Promise<void>;
}

export interface RemediatorDeps {
  readonly config: Pick<Config, 'hosts' | 'remediation'>;
  /** Where the host's agent heartbeat is read. */
  readonly heartbeats: HeartbeatSource;
  readonly notifier?: NotificationService;
  readonly logger: Logger;
  readonly run?: CommandRunner;
  readonly clock?: Clock;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly pollMs?: number;
  /** Called with every result (metrics, tests). */
  readonly onResult?: (r: HealResult) => void;
}

/** The detector's act phase hands `agent-down` hosts with a command here instead of paging at once. */
export function createAgentRemediator(deps: RemediatorDeps): AgentRemediator {
  const running = new Map<string, Promise<void>>();
  const stopping = new AbortController();
  const log = deps.logger.child({ component: 'remediation' });
  return {
    handles: (host) => remediationFor(deps.config, host) !== null,
    start(host, mgmtIp, alert, onDone) {
      const r = remediationFor(deps.config, host);
      if (!r || running.has(host) || stopping.signal.aborted) return false;
      log.warn({ host }, 'nova-compute is down on a live host: running the remediation command');
      const job = healAgent({
        heartbeats: deps.heartbeats, run: deps.run ?? runCommand, clock: deps.clock ?? systemClock, sleep: deps.sleep ?? realSleep,
        signal: stopping.signal, ...(deps.pollMs !== undefined ? { pollMs: deps.pollMs } : {}),
      }, host, mgmtIp, r)
        .then(async (result) => {
          deps.onResult?.(result);
          onDone?.(result.ok, result.reason);
          if (result.ok) {
            log.info({ host, tries: result.tries.length }, result.reason);
            return;
          }
          log.error({ host, tries: result.tries.length }, result.reason);
          await deps.notifier?.notify({
            ...alert,
            summary: `${alert.summary} (the remediation command did not bring it back)`,
            details: [alert.details, describeHeal(result)].filter(Boolean).join('\n\n'),
          });
        })
        .catch(async (err: unknown) => {
          if (stopping.signal.aborted) return;
          onDone?.(false, `remediation failed: ${errorMessage(err)}`);
          log.error({ host, err: errorMessage(err) }, 'remediation failed');
          await deps.notifier?.notify({ ...alert, details: [alert.details, `remediation failed: ${errorMessage(err)}`].filter(Boolean).join('\n\n') })
            .catch(() => undefined);
        })
        .finally(() => { running.delete(host); });
      running.set(host, job);
      return true;
    },
    async idle() {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
    async stop() {
      stopping.abort();
      await Promise.all([...running.values()]);
    },
  };
}

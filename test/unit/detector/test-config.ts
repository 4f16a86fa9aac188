import type { Config, DetectorConfig, HostConfig } from '../../../src/config/types.js';
import { Secret } from '../../../src/config/secret.js';

export const detectorDefaults: DetectorConfig = {
  intervalMs: 10_000,
  heartbeatTimeoutMs: 30_000,
  probeIntervalMs: 1000,
  heartbeatIntervalMs: 10_000,
  heartbeatMarginMs: 1000,
  minSilenceMs: 5000,
  singleSignalSilenceMs: 30_000,
  instanceNetworks: ['tenant'],
  isolationAddresses: [],
  maxDeadHosts: 2,
  maxDeadFraction: 0.33,
  dryRun: false,
  probe: 'fping',
  fpingPath: 'fping',
  probeTimeoutMs: 200,
  probePacketIntervalMs: 1,
  probeCount: 1,
  leaderLeaseMs: 30_000,
  disarmLimitMs: 86_400_000,
};

/** A whole validated Config as load.ts would build it, with the detector and hosts given. */
export function testConfig(detector: Partial<DetectorConfig> = {}, hosts: Record<string, Partial<HostConfig>> = {}, prefix = 'cmpha-test'): Config {
  return {
    cloud: {
      type: 'openstack',
      authUrl: 'http://127.0.0.1:1/v3',
      auth: { type: 'password', username: 'admin', password: new Secret('pw'), projectName: 'admin', userDomainName: 'Default', projectDomainName: 'Default' },
      interface: 'public', insecure: false, timeoutMs: 5000, retries: 0, source: 'test',
    },
    detector: { ...detectorDefaults, ...detector },
    fencing: { timeoutMs: 30_000, pollIntervalMs: 1000, allowUnfencedEvacuation: false, ipmitoolPath: 'ipmitool', attempts: 3 },
    hosts: Object.fromEntries(Object.entries(hosts).map(([name, h]) => [name, { name, fence: { driver: 'none' }, ...h } as HostConfig])),
    evacuation: {
      states: ['ACTIVE', 'ERROR'], concurrency: 4, staggerMs: 0, maxPerMinute: 120, verifyTimeoutMs: 300_000, verifyPollIntervalMs: 2000,
      spareHosts: [], spareReasonPrefix: 'down_prepare', spareAddToAggregates: false, spareCount: 1, disabledReasonPrefix: 'cmpha',
    },
    notifiers: [],
    escalation: {
      repeatEveryMs: 900_000, maxRepeats: 4, dedupWindowMs: 1_800_000, rateLimitPerHour: 30, notifyUsers: false, notifyUsersSms: false,
    },
    redis: { url: 'redis://127.0.0.1:6379', prefix },
    api: { enabled: false, listen: { host: '127.0.0.1', port: 0 }, tokens: [], anonymousRead: false, notificationDuplicateWindowMs: 180_000 },
    metrics: { enabled: false, listen: { host: '127.0.0.1', port: 9464 } },
    logging: { level: 'silent', format: 'json' },
    remediation: { timeoutMs: 60_000, tries: 2, retryDelayMs: 30_000, heartbeatWaitMs: 60_000 },
  };
}

import type { ConfigIssue } from './config-error.js';
import type { Config } from './types.js';

/** Settings that are valid but leave a safety net empty; `config validate` and `doctor` show them. */
export function configWarnings(config: Config): ConfigIssue[] {
  const file = config.path ?? '(no config file)';
  const out: ConfigIssue[] = [];
  if (config.detector.instanceNetworks.length === 0) {
    out.push({
      file, section: 'detector', key: 'instance_networks',
      message: 'is empty: no instance IP can veto a fence, so a host whose management network and nova-compute fail together is fenced even if its instances still answer; name the networks the controller can reach',
    });
  }
  return out;
}

import type { ConfigIssue } from '../config/load.js';
import type { Config } from '../config/types.js';
import { sectionKeys } from '../config/declare.js';
import { didYouMean } from '../config/suggest.js';
import { CHANNEL_KEYS } from '../notifier/channel-keys.js';
import { ChannelOptionsError, parseChannelOptions } from '../notifier/channel-options.js';

/** Each notifier's channel-specific keys, validated by the notifier that owns them. */
function notifierChannels(config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  for (const n of config.notifiers) {
    try {
      parseChannelOptions(n);
    } catch (err) {
      if (!(err instanceof ChannelOptionsError)) throw err;
      const known = sectionKeys(CHANNEL_KEYS[n.type] ?? {});
      for (const i of err.issues) {
        const hint = i.message.startsWith('unknown key') ? didYouMean(i.key, known) : '';
        issues.push({ file: '', section: `notifier:${n.name}`, key: i.key, message: `${i.message}${hint}` });
      }
    }
  }
  return issues;
}

/** The checks run at load time, after the schema, by every command that loads the config. */
export const CONFIG_CHECKS = [notifierChannels] as const;

import type { NotifierConfig } from '../../config/types.js';
import type { Logger } from '../../shared/logger.js';
import { parseChannelOptions, type ChannelOptions } from '../channel-options.js';
import type { Channel } from '../types.js';
import { createEmailChannel } from './email-channel.js';
import { createLogChannel } from './log-channel.js';
import { createWebhookChannel } from './webhook-channel.js';

export function createChannel(notifier: NotifierConfig, logger: Logger): { channel: Channel; options: ChannelOptions } {
  const options = parseChannelOptions(notifier);
  switch (options.type) {
    case 'log':
      return { channel: createLogChannel(notifier.name, options, logger), options };
    case 'email':
      return { channel: createEmailChannel(notifier.name, options), options };
    case 'webhook':
      return { channel: createWebhookChannel(notifier.name, options), options };
  }
}

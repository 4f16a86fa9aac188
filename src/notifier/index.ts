// The notifier's public surface: what the app, the pipeline, the detector and the config loader import.
export { acknowledge, ackKey, getAcknowledgement, type Acknowledgement } from './ack.js';
export { ChannelOptionsError, parseChannelOptions, type ChannelOptions } from './channel-options.js';
export { EVENT_CATALOGUE, EVENT_TYPES, effectiveSeverity } from './events.js';
export { createNotificationService, DEFAULT_LOG_NOTIFIER, type CmphaNotificationService, type NotificationServiceOptions } from './service.js';
export type * from './types.js';

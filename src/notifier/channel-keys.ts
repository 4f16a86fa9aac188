import { key, secretKey, type Decls } from '../config/declare.js';
import { bool, duration, integer, oneOf, text } from '../config/fields.js';

// The type-specific keys of `[notifier:NAME]`, declared next to the code that reads them (channel-options.ts).
// The reference and the "did you mean" hints come from here.

export const WEBHOOK_PRESETS = ['twilio-sms', 'twilio-call', 'slack', 'generic-json', 'custom'] as const;

const retryKeys = (retries: number) => ({
  retries: key('retries', integer(retries, 0, 10), 'Further attempts after the first.'),
  retryDelay: key('retry_delay', duration('1s'), 'First backoff, doubling.'),
  retryMaxDelay: key('retry_max_delay', duration('30s'), 'Longest backoff.'),
});

export const logChannelKeys = {
  level: key('level', oneOf(['info', 'warn', 'error'], 'info'), 'Fixed log level; by default info/warn/error by severity.', { default: '' }),
} as const satisfies Decls;

export const emailChannelKeys = {
  host: key('host', text(), 'SMTP server (required).', { example: 'smtp.example.org' }),
  port: key('port', integer(587, 1, 65535), 'SMTP port.', { default: '587 (starttls), 465 (tls), 25 (none)' }),
  tls: key('tls', oneOf(['none', 'starttls', 'tls'], 'starttls'), 'none, starttls (required, not opportunistic) or tls.'),
  username: key('username', text(), 'SMTP user.'),
  password: secretKey('password', 'SMTP password; prefer password_file.'),
  from: key('from', text(), 'Sender address (required).', { example: 'cmpha <cmpha@example.org>' }),
  timeout: key('timeout', duration('10s', { min: '100ms' }), 'Per connection step.'),
  ...retryKeys(2),
  cacert: key('cacert', text(), 'CA bundle of the SMTP server\'s certificate.'),
  subjectPrefix: key('subject_prefix', text('[cmpha]'), 'Start of every subject.'),
  html: key('html', bool(true), 'Send an HTML part besides the plain text.'),
} as const satisfies Decls;

export const webhookChannelKeys = {
  preset: key('preset', oneOf(WEBHOOK_PRESETS, 'generic-json'), `Request shape: ${WEBHOOK_PRESETS.join(', ')}. twilio-sms and twilio-call send SMS and phone calls.`),
  url: key('url', text(), 'Endpoint, a {{var}} template (not for the twilio presets).'),
  accountSid: key('account_sid', text(), 'Twilio account SID (twilio presets).'),
  authToken: secretKey('auth_token', 'Twilio auth token (twilio presets); prefer auth_token_file.'),
  from: key('from', text(), 'Sending phone number (twilio presets).'),
  baseUrl: key('base_url', text('https://api.twilio.com'), 'Twilio API base (twilio presets).'),
  method: key('method', oneOf(['POST', 'GET'], 'POST'), 'POST or GET.'),
  contentType: key('content_type', oneOf(['json', 'form', 'text'], 'json'), 'json, form or text (form for the twilio presets).'),
  body: key('body', text(), 'Body template (custom preset, or an override for slack and generic-json).'),
  header: key('header.NAME', text(), 'A request header template; may use the channel\'s secrets.'),
  username: key('username', text(), 'Basic auth user (with password).'),
  password: secretKey('password', 'Basic auth password.'),
  token: secretKey('token', 'A secret for {{token}} in the url or a header.'),
  secret: secretKey('secret', 'A secret for {{secret}} in the url or a header.'),
  apiKey: secretKey('api_key', 'A secret for {{api_key}} in the url or a header.'),
  timeout: key('timeout', duration('10s', { min: '100ms' }), 'Per request.'),
  ...retryKeys(3),
  cacert: key('cacert', text(), 'CA bundle of the endpoint\'s certificate.'),
} as const satisfies Decls;

/** Channel type → its own keys, for the reference and for "did you mean". */
export const CHANNEL_KEYS: Readonly<Record<'log' | 'email' | 'webhook', Decls>> = { log: logChannelKeys, email: emailChannelKeys, webhook: webhookChannelKeys };

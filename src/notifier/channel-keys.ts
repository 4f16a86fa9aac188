import { key, secretKey, sectionKeys, type Decls, type KeyProblem, type Typed } from '../config/declare.js';
import { bool, duration, oneOf, optionalInteger, text } from '../config/fields.js';
import { escapers, MESSAGE_VARS, renderTemplate, unknownNames } from './template-engine.js';

// The type-specific keys of `[notifier:NAME]` and the rules that involve several of them, declared next to the
// code that builds a channel from them (channel-options.ts). The reference and the "did you mean" hints come
// from here too.

export const WEBHOOK_PRESETS = ['twilio-sms', 'twilio-call', 'slack', 'generic-json', 'custom'] as const;
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number];
const DEFAULT_PRESET: WebhookPreset = 'generic-json';
const TWILIO_API = 'https://api.twilio.com';

/** The option names that hold secrets: a `_file` form each, usable in url and header templates, never in bodies. */
export const SECRET_OPTION_KEYS = ['password', 'auth_token', 'token', 'secret', 'api_key'] as const;

/** A whole number in min..max, `fallback` when unset. */
const wholeNumber = (fallback: number, min: number, max: number) => optionalInteger(min, max).transform((n) => n ?? fallback);

const retryKeys = (retries: number) => ({
  retries: key('retries', wholeNumber(retries, 0, 10), 'Further attempts after the first.', { default: String(retries) }),
  retryDelay: key('retry_delay', duration('1s'), 'First backoff, doubling.'),
  retryMaxDelay: key('retry_max_delay', duration('30s'), 'Longest backoff.'),
});

export const logChannelKeys = {
  level: key('level', oneOf(['info', 'warn', 'error'], undefined), 'Fixed log level; by default info/warn/error by severity.'),
} as const satisfies Decls;

export const emailChannelKeys = {
  host: key('host', text(), 'SMTP server (required).', { example: 'smtp.example.org' }),
  tls: key('tls', oneOf(['none', 'starttls', 'tls'], 'starttls'), 'none, starttls (required, not opportunistic) or tls.'),
  // Unset: the port of the TLS mode (channel-options.ts).
  port: key('port', optionalInteger(1, 65535), 'SMTP port.', { default: '587 (starttls), 465 (tls), 25 (none)' }),
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
  // Unset and set to the default read differently: "url is required" then names the presets for SMS and calls.
  preset: key('preset', oneOf(WEBHOOK_PRESETS, undefined), `Request shape: ${WEBHOOK_PRESETS.join(', ')}. twilio-sms and twilio-call send SMS and phone calls.`, { default: DEFAULT_PRESET }),
  url: key('url', text(), 'Endpoint, a {{var}} template (not for the twilio presets).'),
  accountSid: key('account_sid', text(), 'Twilio account SID (twilio presets).'),
  authToken: secretKey('auth_token', 'Twilio auth token (twilio presets); prefer auth_token_file.'),
  from: key('from', text(), 'Sending phone number (twilio presets).'),
  baseUrl: key('base_url', text(), 'Twilio API base (twilio presets).', { default: TWILIO_API }),
  method: key('method', oneOf(['POST', 'GET'], 'POST'), 'POST or GET.'),
  // Unset: form for the twilio presets, json otherwise.
  contentType: key('content_type', oneOf(['json', 'form', 'text'], undefined), 'json, form or text (form for the twilio presets).', { default: 'json' }),
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

export type EmailValues = Typed<typeof emailChannelKeys>;
export type WebhookValues = Typed<typeof webhookChannelKeys>;

/** What a channel's rules see besides its own keys: the common `recipients`, and the `header.NAME` templates. */
export interface ChannelContext {
  readonly recipients: readonly string[];
  readonly headers: Readonly<Record<string, string>>;
}

const EMAIL_ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
const PHONE_NUMBER = /^\+?[0-9]{3,20}$/;

/** The port an email channel connects to: the one given, else the TLS mode's. */
export function emailPort(v: EmailValues): number {
  return v.port ?? (v.tls === 'tls' ? 465 : v.tls === 'starttls' ? 587 : 25);
}

/** The rules of an email channel that a single key's field cannot see. */
export function emailChannelProblems(v: EmailValues, ctx: ChannelContext): KeyProblem[] {
  const out: KeyProblem[] = [];
  if (v.host === undefined) out.push({ key: 'host', message: 'is required for an email notifier (the SMTP server)' });
  if (v.password && !v.username) out.push({ key: 'password', message: 'is set but username is not' });
  if (v.username && !v.password) out.push({ key: 'username', message: 'is set but password is not (use password or password_file)' });
  if (v.from === undefined) out.push({ key: 'from', message: 'is required for an email notifier (the sender address)' });
  else if (!EMAIL_ADDRESS.test(v.from.replace(/^.*<([^>]+)>\s*$/, '$1'))) out.push({ key: 'from', message: `"${v.from}" is not an email address` });
  for (const rcpt of ctx.recipients) if (!EMAIL_ADDRESS.test(rcpt)) out.push({ key: 'recipients', message: `"${rcpt}" is not an email address` });
  return out;
}

export function webhookPreset(v: WebhookValues): WebhookPreset {
  return v.preset ?? DEFAULT_PRESET;
}

export function isTwilio(preset: WebhookPreset): preset is 'twilio-sms' | 'twilio-call' {
  return preset === 'twilio-sms' || preset === 'twilio-call';
}

/** The request URL template: as given, or built for the twilio presets from base_url and account_sid. */
export function webhookUrl(v: WebhookValues): string {
  const preset = webhookPreset(v);
  if (!isTwilio(preset)) return v.url ?? '';
  return `${twilioBase(v)}/2010-04-01/Accounts/${v.accountSid ?? ''}/${preset === 'twilio-sms' ? 'Messages' : 'Calls'}.json`;
}

const twilioBase = (v: WebhookValues) => (v.baseUrl ?? TWILIO_API).replace(/\/+$/, '');

export function webhookContentType(v: WebhookValues): 'json' | 'form' | 'text' {
  return v.contentType ?? (isTwilio(webhookPreset(v)) ? 'form' : 'json');
}

/** The rules of a webhook channel that a single key's field cannot see: what each preset needs and forbids, and its templates. */
export function webhookChannelProblems(v: WebhookValues, ctx: ChannelContext): KeyProblem[] {
  const out: KeyProblem[] = [];
  const preset = webhookPreset(v);
  const twilio = isTwilio(preset);
  if (twilio) out.push(...twilioProblems(v, preset, ctx));
  else out.push(...plainUrlProblems(v, preset));
  if (twilio && v.body !== undefined) out.push({ key: 'body', message: `cannot be set for preset ${preset} (its body is fixed)` });
  if (preset === 'custom' && v.method === 'POST' && v.body === undefined) out.push({ key: 'body', message: 'is required for preset custom with method POST' });
  if (v.method === 'GET' && v.body !== undefined) out.push({ key: 'body', message: 'cannot be used with method GET (put the values in the url)' });
  out.push(...templateProblems(webhookUrl(v), v.body, webhookContentType(v)));
  for (const [name, t] of Object.entries(ctx.headers)) out.push(...nameProblems(`header.${name}`, t, [...MESSAGE_VARS, ...SECRET_OPTION_KEYS]));
  if (v.username && !v.password) out.push({ key: 'password', message: 'is required when username is set (basic auth)' });
  if (twilio && v.username) out.push({ key: 'username', message: `cannot be set for preset ${preset} (it authenticates with account_sid and auth_token)` });
  if (twilio && v.method !== 'POST') out.push({ key: 'method', message: `must be POST for preset ${preset}` });
  return out;
}

function twilioProblems(v: WebhookValues, preset: 'twilio-sms' | 'twilio-call', ctx: ChannelContext): KeyProblem[] {
  const out: KeyProblem[] = [];
  if (v.accountSid === undefined) out.push({ key: 'account_sid', message: `is required for preset ${preset}` });
  else if (!/^[A-Za-z0-9]+$/.test(v.accountSid)) out.push({ key: 'account_sid', message: 'must be letters and digits only' });
  if (!v.authToken) out.push({ key: 'auth_token', message: `is required for preset ${preset} (use auth_token or auth_token_file)` });
  if (v.from === undefined) out.push({ key: 'from', message: `is required for preset ${preset} (the sending phone number)` });
  else if (!PHONE_NUMBER.test(v.from)) out.push({ key: 'from', message: `"${v.from}" is not a phone number (+ and digits)` });
  out.push(...urlProblems('base_url', twilioBase(v)));
  for (const rcpt of ctx.recipients) if (!PHONE_NUMBER.test(rcpt)) out.push({ key: 'recipients', message: `"${rcpt}" is not a phone number (+ and digits)` });
  if (v.url !== undefined) out.push({ key: 'url', message: `cannot be set for preset ${preset} (it is built from base_url and account_sid)` });
  return out;
}

function plainUrlProblems(v: WebhookValues, preset: WebhookPreset): KeyProblem[] {
  const out: KeyProblem[] = [];
  // An operator after SMS or a phone call who left preset out lands here: name the presets that do that.
  if (v.url === undefined) {
    out.push({ key: 'url', message: v.preset !== undefined ? `is required for preset ${preset}` : `is required for preset ${preset} (the default when preset is not set; for SMS or phone calls set preset = twilio-sms or twilio-call; presets: ${WEBHOOK_PRESETS.join(', ')})` });
  } else {
    out.push(...urlProblems('url', v.url));
  }
  for (const [k, given] of [['account_sid', v.accountSid], ['from', v.from], ['base_url', v.baseUrl]] as const) {
    if (given !== undefined) out.push({ key: k, message: `is only for the twilio presets (this channel has preset ${preset})` });
  }
  return out;
}

function urlProblems(key: string, url: string): KeyProblem[] {
  // Placeholders stand for values filled in per message; the rest must already be a valid http(s) URL.
  const probe = url.replace(/\{\{\s*[\w.-]+\s*\}\}/g, 'x');
  let parsed: URL;
  try {
    parsed = new URL(probe);
  } catch {
    return [{ key, message: 'is not a valid URL' }];
  }
  const out: KeyProblem[] = [];
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') out.push({ key, message: `must be an http:// or https:// URL, not ${parsed.protocol}` });
  if (parsed.username !== '' || parsed.password !== '') out.push({ key, message: 'must not carry credentials; use username/password or a header' });
  return out;
}

function nameProblems(key: string, template: string, allowed: readonly string[]): KeyProblem[] {
  const out: KeyProblem[] = [];
  const unknown = unknownNames(template, allowed);
  const secret = unknown.filter((n) => (SECRET_OPTION_KEYS as readonly string[]).includes(n));
  if (secret.length > 0) out.push({ key, message: `may not contain secrets (${secret.map((n) => `{{${n}}}`).join(', ')}); put them in the url or a header.NAME key` });
  const other = unknown.filter((n) => !secret.includes(n));
  if (other.length > 0) out.push({ key, message: `unknown value(s) ${other.map((n) => `{{${n}}}`).join(', ')}; known: ${allowed.join(', ')}` });
  return out;
}

function templateProblems(url: string, body: string | undefined, contentType: 'json' | 'form' | 'text'): KeyProblem[] {
  const out = nameProblems('url', url, [...MESSAGE_VARS, ...SECRET_OPTION_KEYS]);
  if (body === undefined) return out;
  out.push(...nameProblems('body', body, MESSAGE_VARS));
  if (contentType === 'json') {
    // Values are JSON-escaped into the template, so a sample rendering shows whether the result parses.
    const sample = Object.fromEntries(MESSAGE_VARS.map((n) => [n, 'a "b"\nc']));
    try {
      JSON.parse(renderTemplate(body, sample, escapers.json));
    } catch (err) {
      out.push({ key: 'body', message: `is not valid JSON once filled in (${(err as Error).message}); put {{value}} inside quotes` });
    }
  }
  return out;
}

/**
 * The order a channel's problems are listed in: the common `events`, then the channel's keys as declared with
 * `recipients` beside the sender (`from`), pattern keys where they are declared, unknown keys last.
 */
export function problemRank(decls: Decls): (key: string) => number {
  const keys = sectionKeys(decls);
  const from = keys.indexOf('from');
  const order = ['events', ...(from < 0 ? [...keys, 'recipients'] : [...keys.slice(0, from + 1), 'recipients', ...keys.slice(from + 1)])];
  return (k) => {
    const i = order.indexOf(k);
    if (i >= 0) return i;
    const pattern = order.findIndex((o) => o.endsWith('.NAME') && k.startsWith(o.slice(0, -'NAME'.length)));
    return pattern >= 0 ? pattern : order.length;
  };
}

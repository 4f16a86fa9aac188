import type { NotifierConfig } from '../config/types.js';
import { Secret } from '../config/secret.js';
import { CmphaError } from '../shared/errors.js';
import { defaultOf, type KeyDecl } from '../config/declare.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import { emailChannelKeys, logChannelKeys, WEBHOOK_PRESETS, webhookChannelKeys } from './channel-keys.js';
import { EVENT_TYPES, isEventType } from './events.js';
import { escapers, MESSAGE_VARS, renderTemplate, unknownNames } from './template-engine.js';

// The type-specific keys of `[notifier:NAME]`, validated per channel type. The loader passes every key that
// is not common to all notifiers through `options` as text (secrets already wrapped in Secret) and calls
// parseChannelOptions at load time, so a typo exits 2 before anything runs rather than at 3 a.m.

export interface RetryPolicy {
  /** Further attempts after the first. */
  readonly retries: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface LogChannelOptions {
  readonly type: 'log';
  /** Fixed level, or by severity (info → info, warning → warn, critical → error). */
  readonly level?: 'info' | 'warn' | 'error';
}

export interface EmailChannelOptions {
  readonly type: 'email';
  readonly host: string;
  readonly port: number;
  readonly tls: 'none' | 'starttls' | 'tls';
  readonly username?: string;
  readonly password?: Secret;
  readonly from: string;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly cacert?: string;
  readonly subjectPrefix: string;
  readonly html: boolean;
}

export { WEBHOOK_PRESETS };
export type WebhookPreset = (typeof WEBHOOK_PRESETS)[number];

export interface WebhookChannelOptions {
  readonly type: 'webhook';
  readonly preset: WebhookPreset;
  /** A `{{var}}` template; values are URL-encoded into it. Twilio presets build it from baseUrl and accountSid. */
  readonly url: string;
  readonly method: 'POST' | 'GET';
  readonly contentType: 'json' | 'form' | 'text';
  /** Body template (custom preset, or an override for slack/generic-json). */
  readonly body?: string;
  /** Header templates; they may use the channel's secrets (`{{token}}`), bodies may not. */
  readonly headers: Readonly<Record<string, string>>;
  readonly accountSid?: string;
  readonly from?: string;
  readonly username?: string;
  /** Secrets by option name: password, auth_token, token, secret, api_key. */
  readonly secrets: Readonly<Record<string, Secret>>;
  readonly timeoutMs: number;
  readonly retry: RetryPolicy;
  readonly cacert?: string;
  /** [cloud] proxy; unset: direct, whatever HTTP(S)_PROXY says. */
  readonly proxy?: OutgoingProxy;
}

export type ChannelOptions = LogChannelOptions | EmailChannelOptions | WebhookChannelOptions;

export const SECRET_OPTION_KEYS = ['password', 'auth_token', 'token', 'secret', 'api_key'] as const;

export interface OptionIssue {
  readonly key: string;
  readonly message: string;
}

/** Thrown for bad channel options; `context.issues` holds one `{ key, message }` per problem. */
export class ChannelOptionsError extends CmphaError {
  readonly issues: readonly OptionIssue[];
  constructor(notifier: string, issues: readonly OptionIssue[]) {
    super('notifier_config_invalid', issues.map((i) => `[notifier:${notifier}] ${i.key}: ${i.message}`).join('\n'), {
      context: { notifier, issues },
    });
    this.name = 'ChannelOptionsError';
    this.issues = issues;
  }
}

/** Reads options one key at a time, remembering which were used so leftovers can be reported as unknown. */
class OptionReader {
  readonly issues: OptionIssue[] = [];
  private readonly used = new Set<string>();
  constructor(private readonly options: Readonly<Record<string, string | Secret>>) {}

  problem(key: string, message: string): void {
    this.issues.push({ key, message });
  }

  text(key: string): string | undefined {
    this.used.add(key);
    const v = this.options[key];
    if (v === undefined) return undefined;
    if (v instanceof Secret) {
      this.problem(key, 'is not a secret; give it as plain text');
      return undefined;
    }
    const t = v.trim();
    return t === '' ? undefined : t;
  }

  /** A key read through its declaration (channel-keys.ts): the same parsing, default and message as cmpha.conf's own keys. */
  decl<T>(d: KeyDecl<T>): T {
    this.used.add(d.ini);
    const v = this.options[d.ini];
    if (v instanceof Secret) {
      this.problem(d.ini, 'is not a secret; give it as plain text');
      return d.field.parse(undefined);
    }
    const r = d.field.safeParse(v);
    if (r.success) return r.data;
    for (const i of r.error.issues) this.problem(d.ini, i.message);
    return d.field.parse(undefined);
  }

  has(key: string): boolean {
    return this.options[key] !== undefined && String(this.options[key]).trim() !== '';
  }

  required(key: string, why: string): string {
    const v = this.text(key);
    if (v === undefined) this.problem(key, `is required ${why}`);
    return v ?? '';
  }

  secret(key: string): Secret | undefined {
    this.used.add(key);
    const v = this.options[key];
    if (v === undefined) return undefined;
    const s = v instanceof Secret ? v : new Secret(v.trim());
    return s.empty ? undefined : s;
  }


  int(key: string, fallback: number, min: number, max: number): number {
    const v = this.text(key);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
      this.problem(key, `"${v}" is not a whole number in ${min}..${max}`);
      return fallback;
    }
    return Number(v);
  }



  /** Keys with a prefix (e.g. `header.`), returned without it. */
  prefixed(prefix: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const key of Object.keys(this.options)) {
      if (!key.startsWith(prefix)) continue;
      const name = key.slice(prefix.length);
      const v = this.text(key);
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) this.problem(key, `"${name}" is not a valid HTTP header name`);
      else if (v !== undefined) out[name] = v;
    }
    return out;
  }

  retry(defaultRetries: number): RetryPolicy {
    return {
      retries: this.int('retries', defaultRetries, 0, 10),
      baseDelayMs: this.decl(emailChannelKeys.retryDelay),
      maxDelayMs: this.decl(emailChannelKeys.retryMaxDelay),
    };
  }

  unknownKeys(): void {
    for (const key of Object.keys(this.options)) {
      if (this.used.has(key)) continue;
      const hint = key.endsWith('_file') ? ' (only secret keys have a *_file form)' : '';
      this.problem(key, `unknown key for this notifier type${hint}`);
    }
  }
}

const EMAIL_ADDRESS = /^[^\s@<>]+@[^\s@<>]+$/;
const PHONE_NUMBER = /^\+?[0-9]{3,20}$/;

function checkUrlTemplate(r: OptionReader, key: string, url: string): void {
  // Placeholders stand for values filled in per message; the rest must already be a valid http(s) URL.
  const probe = url.replace(/\{\{\s*[\w.-]+\s*\}\}/g, 'x');
  let parsed: URL;
  try {
    parsed = new URL(probe);
  } catch {
    r.problem(key, 'is not a valid URL');
    return;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') r.problem(key, `must be an http:// or https:// URL, not ${parsed.protocol}`);
  if (parsed.username !== '' || parsed.password !== '') r.problem(key, 'must not carry credentials; use username/password or a header');
}

function checkNames(r: OptionReader, key: string, template: string, allowed: readonly string[]): void {
  const unknown = unknownNames(template, allowed);
  const secret = unknown.filter((n) => (SECRET_OPTION_KEYS as readonly string[]).includes(n));
  if (secret.length > 0) r.problem(key, `may not contain secrets (${secret.map((n) => `{{${n}}}`).join(', ')}); put them in the url or a header.NAME key`);
  const other = unknown.filter((n) => !secret.includes(n));
  if (other.length > 0) r.problem(key, `unknown value(s) ${other.map((n) => `{{${n}}}`).join(', ')}; known: ${allowed.join(', ')}`);
}

function checkTemplates(r: OptionReader, url: string, body: string | undefined, contentType: 'json' | 'form' | 'text'): void {
  checkNames(r, 'url', url, [...MESSAGE_VARS, ...SECRET_OPTION_KEYS]);
  if (body === undefined) return;
  checkNames(r, 'body', body, MESSAGE_VARS);
  if (contentType === 'json') {
    // Values are JSON-escaped into the template, so a sample rendering shows whether the result parses.
    const sample = Object.fromEntries(MESSAGE_VARS.map((n) => [n, 'a "b"\nc']));
    try {
      JSON.parse(renderTemplate(body, sample, escapers.json));
    } catch (err) {
      r.problem('body', `is not valid JSON once filled in (${(err as Error).message}); put {{value}} inside quotes`);
    }
  }
}

function parseEmail(n: NotifierConfig, r: OptionReader): EmailChannelOptions {
  const host = r.required('host', 'for an email notifier (the SMTP server)');
  const tls = r.decl(emailChannelKeys.tls);
  const port = r.int('port', tls === 'tls' ? 465 : tls === 'starttls' ? 587 : 25, 1, 65535);
  const username = r.text('username');
  const password = r.secret('password');
  if (password && !username) r.problem('password', 'is set but username is not');
  if (username && !password) r.problem('username', 'is set but password is not (use password or password_file)');
  const from = r.required('from', 'for an email notifier (the sender address)');
  if (from && !EMAIL_ADDRESS.test(from.replace(/^.*<([^>]+)>\s*$/, '$1'))) r.problem('from', `"${from}" is not an email address`);
  for (const rcpt of n.recipients) if (!EMAIL_ADDRESS.test(rcpt)) r.problem('recipients', `"${rcpt}" is not an email address`);
  return {
    type: 'email',
    host,
    port,
    tls,
    username,
    password,
    from,
    timeoutMs: r.decl(emailChannelKeys.timeout),
    retry: r.retry(defaultOf(emailChannelKeys.retries)),
    cacert: r.text('cacert'),
    subjectPrefix: r.decl(emailChannelKeys.subjectPrefix),
    html: r.decl(emailChannelKeys.html),
  };
}

function parseWebhook(n: NotifierConfig, r: OptionReader): WebhookChannelOptions {
  const preset = r.decl(webhookChannelKeys.preset);
  const twilio = preset === 'twilio-sms' || preset === 'twilio-call';
  const secrets: Record<string, Secret> = {};
  for (const key of SECRET_OPTION_KEYS) {
    const s = r.secret(key);
    if (s) secrets[key] = s;
  }
  let url: string;
  let accountSid: string | undefined;
  let from: string | undefined;
  if (twilio) {
    accountSid = r.required('account_sid', `for preset ${preset}`);
    if (accountSid && !/^[A-Za-z0-9]+$/.test(accountSid)) r.problem('account_sid', 'must be letters and digits only');
    if (!secrets.auth_token) r.problem('auth_token', `is required for preset ${preset} (use auth_token or auth_token_file)`);
    from = r.required('from', `for preset ${preset} (the sending phone number)`);
    if (from && !PHONE_NUMBER.test(from)) r.problem('from', `"${from}" is not a phone number (+ and digits)`);
    const base = (r.text('base_url') ?? defaultOf(webhookChannelKeys.baseUrl)).replace(/\/+$/, '');
    checkUrlTemplate(r, 'base_url', base);
    url = `${base}/2010-04-01/Accounts/${accountSid}/${preset === 'twilio-sms' ? 'Messages' : 'Calls'}.json`;
    for (const rcpt of n.recipients) if (!PHONE_NUMBER.test(rcpt)) r.problem('recipients', `"${rcpt}" is not a phone number (+ and digits)`);
  } else {
    // An operator after SMS or a phone call who left preset out lands here: name the presets that do that.
    const presetGiven = n.options.preset !== undefined;
    url = r.required('url', presetGiven ? `for preset ${preset}` : `for preset ${preset} (the default when preset is not set; for SMS or phone calls set preset = twilio-sms or twilio-call; presets: ${WEBHOOK_PRESETS.join(', ')})`);
    if (url) checkUrlTemplate(r, 'url', url);
  }
  const method = r.decl(webhookChannelKeys.method);
  const contentType = twilio && !r.has('content_type') ? 'form' : r.decl(webhookChannelKeys.contentType);
  const body = r.text('body');
  if (twilio && body !== undefined) r.problem('body', `cannot be set for preset ${preset} (its body is fixed)`);
  if (preset === 'custom' && method === 'POST' && body === undefined) r.problem('body', 'is required for preset custom with method POST');
  if (method === 'GET' && body !== undefined) r.problem('body', 'cannot be used with method GET (put the values in the url)');
  checkTemplates(r, url, body, contentType);
  const headers = r.prefixed('header.');
  for (const [name, t] of Object.entries(headers)) checkNames(r, `header.${name}`, t, [...MESSAGE_VARS, ...SECRET_OPTION_KEYS]);
  const username = r.text('username');
  if (username && !secrets.password) r.problem('password', 'is required when username is set (basic auth)');
  if (twilio && username) r.problem('username', `cannot be set for preset ${preset} (it authenticates with account_sid and auth_token)`);
  if (twilio && method !== 'POST') r.problem('method', `must be POST for preset ${preset}`);
  return {
    type: 'webhook',
    preset,
    url,
    method,
    contentType,
    body,
    headers,
    accountSid,
    from,
    username,
    secrets,
    timeoutMs: r.decl(webhookChannelKeys.timeout),
    retry: r.retry(defaultOf(webhookChannelKeys.retries)),
    cacert: r.text('cacert'),
    ...(n.proxy ? { proxy: n.proxy } : {}),
  };
}

/**
 * Validates the type-specific keys of one notifier. Throws ChannelOptionsError (message lines
 * `[notifier:NAME] key: problem`) for unknown keys, missing keys and bad values.
 */
export function parseChannelOptions(notifier: NotifierConfig): ChannelOptions {
  const r = new OptionReader(notifier.options);
  for (const e of notifier.events) if (e !== '*' && !isEventType(e)) r.problem('events', `"${e}" is not an event (known: *, ${EVENT_TYPES.join(', ')})`);
  let out: ChannelOptions;
  switch (notifier.type) {
    case 'log':
      out = { type: 'log', level: r.decl(logChannelKeys.level) };
      if (notifier.options.level === undefined) out = { type: 'log' };
      break;
    case 'email':
      out = parseEmail(notifier, r);
      break;
    case 'webhook':
      out = parseWebhook(notifier, r);
      break;
    default:
      r.problem('type', `"${String((notifier as { type: unknown }).type)}" is not one of log, email, webhook`);
      throw new ChannelOptionsError(notifier.name, r.issues);
  }
  if (notifier.type !== 'log' && notifier.audience !== 'users' && notifier.recipients.length === 0 && !hasOwnTarget(out)) {
    r.problem('recipients', `is required for audience ${notifier.audience} (who should receive these messages?)`);
  }
  r.unknownKeys();
  if (r.issues.length > 0) throw new ChannelOptionsError(notifier.name, r.issues);
  return out;
}

/** A chat webhook's URL is its destination; it needs no recipient list. */
export function hasOwnTarget(o: ChannelOptions): boolean {
  return o.type === 'webhook' && (o.preset === 'slack' || o.preset === 'generic-json' || o.preset === 'custom');
}

import type { NotifierConfig } from '../config/types.js';
import { Secret } from '../config/secret.js';
import { CmphaError } from '../shared/errors.js';
import { parseEachKey, type Decls, type KeyProblem } from '../config/declare.js';
import type { OutgoingProxy } from '../shared/outgoing-proxy.js';
import {
  emailChannelKeys, emailChannelProblems, emailPort, logChannelKeys, problemRank, SECRET_OPTION_KEYS, webhookChannelKeys, webhookChannelProblems,
  webhookContentType, webhookPreset, webhookUrl, WEBHOOK_PRESETS, type ChannelContext, type EmailValues, type WebhookPreset, type WebhookValues,
} from './channel-keys.js';
import { EVENT_TYPES, isEventType } from './events.js';

// The type-specific keys of `[notifier:NAME]`, validated per channel type by their declarations and rules
// (channel-keys.ts). The loader passes every key that is not common to all notifiers through `options` as text
// (secrets already wrapped in Secret) and parseChannelOptions runs at load time, so a typo exits 2 before
// anything runs rather than at 3 a.m.

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

export { SECRET_OPTION_KEYS, WEBHOOK_PRESETS, type WebhookPreset };

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

export type OptionIssue = KeyProblem;

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

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

/** The `header.NAME` templates among a webhook's remaining options, without the prefix. */
function headerTemplates(rest: Readonly<Record<string, string | Secret>>, problems: OptionIssue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(rest)) {
    if (!key.startsWith('header.')) continue;
    const name = key.slice('header.'.length);
    if (v instanceof Secret) problems.push({ key, message: 'is not a secret; give it as plain text' });
    if (!HEADER_NAME.test(name)) problems.push({ key, message: `"${name}" is not a valid HTTP header name` });
    else if (!(v instanceof Secret) && v.trim() !== '') out[name] = v.trim();
  }
  return out;
}

function retryPolicy(v: EmailValues | WebhookValues): RetryPolicy {
  return { retries: v.retries, baseDelayMs: v.retryDelay, maxDelayMs: v.retryMaxDelay };
}

function emailOptions(v: EmailValues): EmailChannelOptions {
  return {
    type: 'email',
    host: v.host ?? '',
    port: emailPort(v),
    tls: v.tls,
    username: v.username,
    password: v.password,
    from: v.from ?? '',
    timeoutMs: v.timeout,
    retry: retryPolicy(v),
    cacert: v.cacert,
    subjectPrefix: v.subjectPrefix,
    html: v.html,
  };
}

function webhookOptions(n: NotifierConfig, v: WebhookValues, headers: Readonly<Record<string, string>>): WebhookChannelOptions {
  const secrets: Record<string, Secret> = {};
  for (const [name, s] of [['password', v.password], ['auth_token', v.authToken], ['token', v.token], ['secret', v.secret], ['api_key', v.apiKey]] as const) {
    if (s) secrets[name] = s;
  }
  return {
    type: 'webhook',
    preset: webhookPreset(v),
    url: webhookUrl(v),
    method: v.method,
    contentType: webhookContentType(v),
    body: v.body,
    headers,
    accountSid: v.accountSid,
    from: v.from,
    username: v.username,
    secrets,
    timeoutMs: v.timeout,
    retry: retryPolicy(v),
    cacert: v.cacert,
    ...(n.proxy ? { proxy: n.proxy } : {}),
  };
}

/** A channel built from its keys: the options, and every problem its keys and rules found. */
function buildChannel(n: NotifierConfig, problems: OptionIssue[]): { out: ChannelOptions; decls: Decls; rest: Readonly<Record<string, string | Secret>> } {
  switch (n.type) {
    case 'log': {
      const { value, problems: own, rest } = parseEachKey(logChannelKeys, n.options);
      problems.push(...own);
      return { out: value.level === undefined ? { type: 'log' } : { type: 'log', level: value.level }, decls: logChannelKeys, rest };
    }
    case 'email': {
      const { value, problems: own, rest } = parseEachKey(emailChannelKeys, n.options);
      problems.push(...own, ...emailChannelProblems(value, { recipients: n.recipients, headers: {} }));
      return { out: emailOptions(value), decls: emailChannelKeys, rest };
    }
    case 'webhook': {
      const { value, problems: own, rest } = parseEachKey(webhookChannelKeys, n.options);
      problems.push(...own);
      const headers = headerTemplates(rest, problems);
      const ctx: ChannelContext = { recipients: n.recipients, headers };
      problems.push(...webhookChannelProblems(value, ctx));
      return { out: webhookOptions(n, value, headers), decls: webhookChannelKeys, rest: Object.fromEntries(Object.entries(rest).filter(([k]) => !k.startsWith('header.'))) };
    }
    default:
      problems.push({ key: 'type', message: `"${String((n as { type: unknown }).type)}" is not one of log, email, webhook` });
      throw new ChannelOptionsError(n.name, problems);
  }
}

function unknownKeyProblems(rest: Readonly<Record<string, unknown>>): OptionIssue[] {
  return Object.keys(rest).map((key) => ({ key, message: `unknown key for this notifier type${key.endsWith('_file') ? ' (only secret keys have a *_file form)' : ''}` }));
}

/**
 * Validates the type-specific keys of one notifier. Throws ChannelOptionsError (message lines
 * `[notifier:NAME] key: problem`, in the order of the keys they name) for unknown keys, missing keys and bad values.
 */
export function parseChannelOptions(notifier: NotifierConfig): ChannelOptions {
  const problems: OptionIssue[] = [];
  for (const e of notifier.events) if (e !== '*' && !isEventType(e)) problems.push({ key: 'events', message: `"${e}" is not an event (known: *, ${EVENT_TYPES.join(', ')})` });
  const { out, decls, rest } = buildChannel(notifier, problems);
  if (notifier.type !== 'log' && notifier.audience !== 'users' && notifier.recipients.length === 0 && !hasOwnTarget(out)) {
    problems.push({ key: 'recipients', message: `is required for audience ${notifier.audience} (who should receive these messages?)` });
  }
  problems.push(...unknownKeyProblems(rest));
  if (problems.length > 0) {
    const rank = problemRank(decls);
    throw new ChannelOptionsError(notifier.name, problems.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p.key) - rank(b.p.key) || a.i - b.i).map(({ p }) => p));
  }
  return out;
}

/** A chat webhook's URL is its destination; it needs no recipient list. */
export function hasOwnTarget(o: ChannelOptions): boolean {
  return o.type === 'webhook' && (o.preset === 'slack' || o.preset === 'generic-json' || o.preset === 'custom');
}

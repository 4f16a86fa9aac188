import type { WebhookChannelOptions } from '../channel-options.js';
import { escapers, renderTemplate, type Escaper } from '../template-engine.js';
import type { RenderedMessage } from '../types.js';

// Builds the HTTP request a webhook preset sends. Pure, so each preset's exact wire form is unit-testable.

export interface WebhookRequest {
  readonly method: 'POST' | 'GET';
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly basicAuth?: { readonly username: string; readonly password: string };
}

const CONTENT_TYPES = { json: 'application/json', form: 'application/x-www-form-urlencoded', text: 'text/plain; charset=utf-8' } as const;

export const SLACK_BODY = '{"text": "*{{subject}}*\\n{{text}}"}';

const GENERIC_FIELDS = ['event', 'severity', 'title', 'host', 'incident', 'summary', 'details', 'at', 'subject', 'text', 'sms', 'ack_id', 'repeat', 'recipient'] as const;

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

/** Words read out on a phone call: the SMS line with the machine-made parts spelled for a voice. */
export function spokenText(message: RenderedMessage): string {
  return message.sms.replace(/^cmpha (CRIT|WARN|info)/, 'cmpha alert').replace(/->/g, ' to ');
}

export function buildWebhookRequest(o: WebhookChannelOptions, message: RenderedMessage, recipient: string): WebhookRequest {
  const vars: Record<string, string> = { ...message.vars, recipient };
  // Secrets may be placed in the URL and headers (an API key, a bot token in a path), never in bodies.
  const secretVars: Record<string, string> = {};
  for (const [k, s] of Object.entries(o.secrets)) secretVars[k] = s.reveal();
  const url = renderTemplate(o.url, { ...vars, ...secretVars }, escapers.url);
  const headers: Record<string, string> = {};
  for (const [k, t] of Object.entries(o.headers)) headers[k] = renderTemplate(t, { ...vars, ...secretVars }, escapers.none).replace(/[\r\n]+/g, ' ');
  let body: string | undefined;
  let basicAuth: WebhookRequest['basicAuth'];
  let contentType: keyof typeof CONTENT_TYPES = o.contentType;
  switch (o.preset) {
    case 'twilio-sms':
      contentType = 'form';
      body = form({ To: recipient, From: o.from!, Body: message.sms });
      basicAuth = { username: o.accountSid!, password: o.secrets.auth_token!.reveal() };
      break;
    case 'twilio-call':
      contentType = 'form';
      body = form({ To: recipient, From: o.from!, Twiml: `<Response><Say>${xml(spokenText(message))}</Say></Response>` });
      basicAuth = { username: o.accountSid!, password: o.secrets.auth_token!.reveal() };
      break;
    case 'slack':
      body = renderBody(o.body ?? SLACK_BODY, vars, o.contentType);
      break;
    case 'generic-json':
      body = o.body === undefined
        ? JSON.stringify(Object.fromEntries(GENERIC_FIELDS.map((f) => [f, vars[f] ?? ''])))
        : renderBody(o.body, vars, o.contentType);
      break;
    case 'custom':
      body = o.body === undefined ? undefined : renderBody(o.body, vars, o.contentType);
      break;
  }
  if (o.method === 'GET') body = undefined;
  if (body !== undefined && headers['Content-Type'] === undefined && headers['content-type'] === undefined) headers['Content-Type'] = CONTENT_TYPES[contentType];
  if (!basicAuth && o.username && o.secrets.password) basicAuth = { username: o.username, password: o.secrets.password.reveal() };
  return { method: o.method, url, headers, body, basicAuth };
}

function renderBody(template: string, vars: Record<string, string>, contentType: WebhookChannelOptions['contentType']): string {
  const escape: Escaper = contentType === 'json' ? escapers.json : contentType === 'form' ? escapers.form : escapers.none;
  return renderTemplate(template, vars, escape);
}

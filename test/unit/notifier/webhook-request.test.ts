import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { parseChannelOptions, type WebhookChannelOptions } from '../../../src/notifier/channel-options.js';
import { buildWebhookRequest } from '../../../src/notifier/channels/webhook-request.js';
import { renderEventMessage } from '../../../src/notifier/templates.js';
import { event, notifier } from './fixtures.js';

const opts = (options: Record<string, string | Secret>, recipients: string[] = []) =>
  parseChannelOptions(notifier({ type: 'webhook', recipients, options })) as WebhookChannelOptions;
const msg = renderEventMessage(event({ summary: 'cmp-3 "died" & came back?' }));

describe('buildWebhookRequest', () => {
  it('generic-json sends the message fields as one JSON object', () => {
    const req = buildWebhookRequest(opts({ url: 'https://hook.example/in' }), msg, 'hook');
    expect(req.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(req.body!)).toMatchObject({ event: 'incident-resolved', severity: 'info', host: 'cmp-3', incident: 'inc-42', summary: 'cmp-3 "died" & came back?', recipient: 'hook' });
  });

  it('custom form bodies URL-encode values, GET puts them in the URL', () => {
    const form = buildWebhookRequest(opts({ preset: 'custom', url: 'https://sms.example/send', content_type: 'form', body: 'to={{recipient}}&text={{summary}}' }, ['+1555']), msg, '+1555');
    expect(form.body).toBe('to=%2B1555&text=cmp-3%20%22died%22%20%26%20came%20back%3F');
    expect(form.headers['Content-Type']).toBe('application/x-www-form-urlencoded');
    const get = buildWebhookRequest(opts({ preset: 'custom', method: 'GET', url: 'https://sms.example/send?to={{recipient}}&m={{sms}}&key={{api_key}}', api_key: new Secret('k&y') }, ['+1555']), msg, '+1555');
    expect(get.body).toBeUndefined();
    expect(get.url).toBe(`https://sms.example/send?to=%2B1555&m=${encodeURIComponent(msg.sms)}&key=k%26y`);
  });

  it('puts secrets in headers and basic auth, never in the body', () => {
    const o = opts({ url: 'https://hook.example/in', 'header.Authorization': 'Bearer {{token}}', token: new Secret('s3cr3t-token'), username: 'bot', password: new Secret('pw-123') });
    const req = buildWebhookRequest(o, msg, 'x');
    expect(req.headers.Authorization).toBe('Bearer s3cr3t-token');
    expect(req.basicAuth).toEqual({ username: 'bot', password: 'pw-123' });
    expect(req.body).not.toContain('s3cr3t');
    expect(req.body).not.toContain('pw-123');
  });

  it('JSON-escapes values in a custom JSON body so any summary stays valid JSON', () => {
    const req = buildWebhookRequest(opts({ preset: 'custom', url: 'https://x/', body: '{"msg": "{{summary}}", "details": "{{text}}"}' }), msg, 'x');
    const parsed = JSON.parse(req.body!) as { msg: string; details: string };
    expect(parsed.msg).toBe('cmp-3 "died" & came back?');
    expect(parsed.details).toBe(msg.text);
  });
});

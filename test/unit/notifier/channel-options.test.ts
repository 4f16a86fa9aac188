import { describe, expect, it } from 'vitest';
import { Secret } from '../../../src/config/secret.js';
import { ChannelOptionsError, parseChannelOptions } from '../../../src/notifier/channel-options.js';
import { notifier } from './fixtures.js';

function problems(n: Parameters<typeof notifier>[0]): string[] {
  try {
    parseChannelOptions(notifier(n));
  } catch (err) {
    expect(err).toBeInstanceOf(ChannelOptionsError);
    expect((err as ChannelOptionsError).code).toBe('notifier_config_invalid');
    return (err as Error).message.split('\n');
  }
  throw new Error('expected the options to be refused');
}

describe('parseChannelOptions', () => {
  it('gives typed email options with defaults that follow the TLS mode', () => {
    const o = parseChannelOptions(notifier({ name: 'mail', type: 'email', recipients: ['a@example.org'], options: { host: 'smtp.example.org', from: 'Cmpha <cmpha@example.org>', username: 'u', password: new Secret('p') } }));
    expect(o).toMatchObject({ type: 'email', host: 'smtp.example.org', port: 587, tls: 'starttls', timeoutMs: 10_000, retry: { retries: 2, baseDelayMs: 1000 }, subjectPrefix: '[cmpha]', html: true });
    expect(parseChannelOptions(notifier({ type: 'email', recipients: ['a@b.c'], options: { host: 'h', from: 'f@b.c', tls: 'tls' } }))).toMatchObject({ port: 465 });
    expect(parseChannelOptions(notifier({ type: 'email', recipients: ['a@b.c'], options: { host: 'h', from: 'f@b.c', tls: 'none' } }))).toMatchObject({ port: 25 });
  });

  it('wraps a plain-text secret option into a Secret', () => {
    const o = parseChannelOptions(notifier({ type: 'email', recipients: ['a@b.c'], options: { host: 'h', from: 'f@b.c', username: 'u', password: 'plain' } }));
    expect(o.type === 'email' && o.password instanceof Secret && o.password.reveal()).toBe('plain');
    expect(JSON.stringify(o)).not.toContain('plain');
  });

  it('names the notifier, the key and the problem for each mistake', () => {
    expect(problems({ name: 'mail', type: 'email', recipients: ['not-an-address'], options: { port: '99999', tls: 'ssl', tiemout: '5s', password: new Secret('x') } })).toEqual([
      '[notifier:mail] host: is required for an email notifier (the SMTP server)',
      '[notifier:mail] tls: "ssl" is not one of none, starttls, tls',
      '[notifier:mail] port: "99999" is not a whole number in 1..65535',
      '[notifier:mail] password: is set but username is not',
      '[notifier:mail] from: is required for an email notifier (the sender address)',
      '[notifier:mail] recipients: "not-an-address" is not an email address',
      '[notifier:mail] tiemout: unknown key for this notifier type',
    ]);
  });

  it('requires recipients for admins and on-call, but not for owner channels or chat webhooks', () => {
    expect(problems({ name: 'm', type: 'email', options: { host: 'h', from: 'f@b.c' } })).toEqual(['[notifier:m] recipients: is required for audience admins (who should receive these messages?)']);
    expect(() => parseChannelOptions(notifier({ type: 'email', audience: 'users', options: { host: 'h', from: 'f@b.c' } }))).not.toThrow();
    expect(() => parseChannelOptions(notifier({ type: 'webhook', options: { preset: 'slack', url: 'https://hooks.example/x' } }))).not.toThrow();
  });

  it('refuses unknown event names', () => {
    expect(problems({ name: 'l', events: ['fence-failed', 'fence_failed'] })[0]).toMatch(/^\[notifier:l\] events: "fence_failed" is not an event \(known: \*, host-suspected, /);
  });

  it('builds the Twilio URL from base_url and account_sid and requires the token', () => {
    const o = parseChannelOptions(notifier({ type: 'webhook', audience: 'oncall', recipients: ['+15551234567'], options: { preset: 'twilio-call', account_sid: 'AC1', auth_token: new Secret('t'), from: '+15550000000', base_url: 'http://127.0.0.1:8080/' } }));
    expect(o).toMatchObject({ type: 'webhook', url: 'http://127.0.0.1:8080/2010-04-01/Accounts/AC1/Calls.json', method: 'POST', contentType: 'form' });
    expect(problems({ name: 'sms', type: 'webhook', recipients: ['555-CALL-ME'], options: { preset: 'twilio-sms', from: 'me', body: 'x' } })).toEqual([
      '[notifier:sms] account_sid: is required for preset twilio-sms',
      '[notifier:sms] auth_token: is required for preset twilio-sms (use auth_token or auth_token_file)',
      '[notifier:sms] from: "me" is not a phone number (+ and digits)',
      '[notifier:sms] recipients: "555-CALL-ME" is not a phone number (+ and digits)',
      '[notifier:sms] body: cannot be set for preset twilio-sms (its body is fixed)',
    ]);
  });

  it('checks webhook URLs and templates when the config is loaded', () => {
    expect(problems({ name: 'w', type: 'webhook', options: { url: 'ftp://x/y' } })).toEqual(['[notifier:w] url: must be an http:// or https:// URL, not ftp:']);
    expect(problems({ name: 'w', type: 'webhook', options: { url: 'https://u:p@x/y' } })).toEqual(['[notifier:w] url: must not carry credentials; use username/password or a header']);
    expect(problems({ name: 'w', type: 'webhook', options: { preset: 'custom', url: 'https://x/{{hots}}', body: '{"t": "{{token}}", "s": "{{sumary}}"}' } })).toEqual([
      '[notifier:w] url: unknown value(s) {{hots}}; known: event, severity, title, host, incident, summary, details, at, instances, instance_count, action, ack_id, repeat, subject, text, sms, recipient, user, password, auth_token, token, secret, api_key',
      '[notifier:w] body: may not contain secrets ({{token}}); put them in the url or a header.NAME key',
      '[notifier:w] body: unknown value(s) {{sumary}}; known: event, severity, title, host, incident, summary, details, at, instances, instance_count, action, ack_id, repeat, subject, text, sms, recipient, user',
    ]);
    expect(problems({ name: 'w', type: 'webhook', options: { url: 'https://x/', body: '{"text": {{text}}}' } })[0]).toMatch(/^\[notifier:w\] body: is not valid JSON once filled in .*put \{\{value\}\} inside quotes$/);
    expect(problems({ name: 'w', type: 'webhook', options: { url: 'https://x/', 'header.Bad Name': 'v' } })).toEqual(['[notifier:w] header.Bad Name: "Bad Name" is not a valid HTTP header name']);
  });

  it('accepts headers that use secrets and a custom form body', () => {
    const o = parseChannelOptions(notifier({ type: 'webhook', recipients: ['+15551234567'], options: { preset: 'custom', url: 'https://sms.example/send', content_type: 'form', body: 'to={{recipient}}&msg={{sms}}', 'header.X-Api-Key': '{{api_key}}', api_key: new Secret('k') } }));
    expect(o).toMatchObject({ type: 'webhook', preset: 'custom', contentType: 'form', headers: { 'X-Api-Key': '{{api_key}}' } });
  });

  it('names a key that is not for the channel\'s preset, and a retry count out of range, with the other problems', () => {
    expect(problems({ name: 'call', type: 'webhook', recipients: ['+15551234567'], options: { preset: 'twilio-call', account_sid: 'AC1', auth_token: new Secret('t'), from: '+15550000000', url: 'https://x.example/', retries: '11' } })).toEqual([
      '[notifier:call] url: cannot be set for preset twilio-call (it is built from base_url and account_sid)',
      '[notifier:call] retries: "11" is not a whole number in 0..10',
    ]);
    expect(problems({ name: 'chat', type: 'webhook', options: { url: 'https://hooks.example/x', from: '+15550000000', base_url: 'https://api.example' } })).toEqual([
      '[notifier:chat] from: is only for the twilio presets (this channel has preset generic-json)',
      '[notifier:chat] base_url: is only for the twilio presets (this channel has preset generic-json)',
    ]);
  });

  it('log channels take an optional fixed level', () => {
    expect(parseChannelOptions(notifier({ type: 'log' }))).toEqual({ type: 'log' });
    expect(parseChannelOptions(notifier({ type: 'log', options: { level: 'warn' } }))).toEqual({ type: 'log', level: 'warn' });
    expect(problems({ name: 'l', options: { level: 'loud' } })).toEqual(['[notifier:l] level: "loud" is not one of info, warn, error']);
  });
});

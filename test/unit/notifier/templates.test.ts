import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/notifier/events.js';
import { fitSms, toSms } from '../../../src/notifier/sms-text.js';
import { loadTemplateOverrides, renderEventMessage, renderUserNotice } from '../../../src/notifier/templates.js';
import { event, instance } from './fixtures.js';

const dirs: string[] = [];
function templateDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-tpl-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(dir, name), content);
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('SMS text', () => {
  it('is one ASCII line of at most 160 characters', () => {
    expect(toSms('Hôte «cmp-3» — mort\n\tà 03:14 → évacué ✓')).toBe('Hote ?cmp-3? - mort a 03:14 -> evacue ?');
    const long = toSms('x'.repeat(500));
    expect(long).toHaveLength(160);
    expect(long.endsWith('...')).toBe(true);
  });

  it('shortens the middle so the host and the ack id survive', () => {
    const s = fitSms('cmpha CRIT fence-failed cmp-3:', 'word '.repeat(100), 'ack inc-12345');
    expect(s.length).toBeLessThanOrEqual(160);
    expect(s.startsWith('cmpha CRIT fence-failed cmp-3: word')).toBe(true);
    expect(s.endsWith('... ack inc-12345')).toBe(true);
  });
});

describe('event messages', () => {
  it('renders every event type with an SMS-safe summary and a subject', () => {
    for (const type of EVENT_TYPES) {
      const m = renderEventMessage(event({ type, summary: 'Überlast auf “cmp-3” — '.repeat(20) }), { ackId: 'inc-42' });
      expect(m.sms.length, type).toBeLessThanOrEqual(160);
      expect(m.sms, type).toMatch(/^[\x20-\x7e]+$/);
      expect(m.sms, type).toContain('ack inc-42');
      expect(m.subject.length, type).toBeGreaterThan(5);
      expect(m.text, type).toContain('What needs a human:');
    }
  });

  it('raises severity to the event type floor: a fence failure is critical whatever the caller says', () => {
    const m = renderEventMessage(event({ type: 'fence-failed', severity: 'info', summary: 'BMC timeout' }));
    expect(m.severity).toBe('critical');
    expect(m.subject).toBe('CRITICAL: Fencing failed: host NOT evacuated (cmp-3)');
    expect(m.sms).toBe('cmpha CRIT fence-failed cmp-3: BMC timeout');
  });

  it('escapes every value in the HTML body', () => {
    const m = renderEventMessage(event({ summary: '<script>alert(1)</script>', details: 'a & b', instances: [instance({ name: '"><img src=x>' })] }));
    expect(m.html).not.toContain('<script>');
    expect(m.html).not.toContain('<img');
    expect(m.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(m.html).toContain('a &amp; b');
    expect(m.html).toContain('&quot;&gt;&lt;img src=x&gt;');
  });

  it('says which repeat of an unacknowledged page this is', () => {
    const m = renderEventMessage(event({ type: 'storm-brake', severity: 'critical', host: undefined }), { ackId: 'storm-brake-cluster-x', repeat: { n: 2, of: 4 } });
    expect(m.subject).toBe('CRITICAL: Storm brake: too many hosts look dead, no action taken [repeat 2/4]');
    expect(m.text).toContain('Acknowledge to stop repeats: cmpha incidents ack storm-brake-cluster-x');
  });
});

describe('owner notices', () => {
  it('lists only the owner\'s instances with old host, new host and downtime', () => {
    const m = renderUserNotice(event({ incidentId: 'inc-9' }), {
      recipient: 'alice@example.org',
      name: 'alice',
      instances: [instance({ name: 'web-1', downtimeMs: 61_000 }), instance({ id: 'i-2', name: 'db-1', targetHost: null, state: 'ERROR' })],
    });
    expect(m.subject).toBe('Your instances are affected by the failure of cmp-3');
    expect(m.text).toContain('Hello alice,');
    expect(m.text).toContain('web-1 (a1b2c3d4-0000-4000-8000-000000000001): moved from cmp-3 to cmp-7, back after about 1m1s');
    expect(m.text).toContain('db-1 (i-2): NOT moved yet and still down');
    expect(m.text).toContain('Reference: incident inc-9');
    expect(m.sms).toBe('cmpha: host cmp-3 failed; 1 of your instance(s) still down: db-1; operators informed');
  });
});

describe('template_dir overrides', () => {
  it('replaces the built-in words per event and form, escaping values in HTML and keeping SMS safe', () => {
    const templates = loadTemplateOverrides(templateDir({
      'fence-failed.sms': 'PAGE {{host}} {{incident}}: {{summary}} – call the DC',
      'fence-failed.html': '<b>{{summary}}</b>',
      'fence-failed.subject': '[{{severity}}] {{host}} fencing',
      'fence-failed.txt': '{{subject}}\n{{instances}}\n{{action}}',
      'README.md': 'ignored',
    }));
    const m = renderEventMessage(event({ type: 'fence-failed', severity: 'critical', summary: '<BMC> down', instances: [instance()] }), { templates });
    expect(m.sms).toBe('PAGE cmp-3 inc-42: <BMC> down - call the DC');
    expect(m.html).toBe('<b>&lt;BMC&gt; down</b>');
    expect(m.subject).toBe('[critical] cmp-3 fencing');
    expect(m.text.split('\n')[0]).toBe('[critical] cmp-3 fencing');
    expect(m.text).toContain('web-1 (a1b2c3d4-0000-4000-8000-000000000001): cmp-3 -> cmp-7, ACTIVE, downtime 2m10s');
    // Events without a file keep the built-in words.
    expect(renderEventMessage(event(), { templates }).subject).toBe('INFO: Host failure: instances recovered (cmp-3)');
  });

  it('refuses a template naming an unknown value, naming the file', () => {
    const dir = templateDir({ 'incident-opened.txt': 'host {{host}} pw {{password}}' });
    expect(() => loadTemplateOverrides(dir)).toThrow(`template ${path.join(dir, 'incident-opened.txt')}: unknown value(s) {{password}}`);
  });

  it('reports a missing template_dir clearly', () => {
    expect(() => loadTemplateOverrides('/nonexistent/cmpha-templates')).toThrow('[escalation] template_dir: cannot read /nonexistent/cmpha-templates: ENOENT');
  });
});

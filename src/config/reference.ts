// The documentation of every cmpha.conf key, derived from the declarations (schema.ts, host-schema.ts,
// notifier-schema.ts and the keys src/fencing and src/notifier own). cmpha.conf.example and
// docs/configuration.md are generated from it (`npm run gen:config`) and a test fails when they are stale.

import { CHANNEL_KEYS } from '../notifier/channel-keys.js';
import type { Decl, Decls } from './declare.js';
import { hostDefaultsSection, hostSectionDecl } from './host-schema.js';
import { instanceFailureSection, segmentSectionDecl } from './masakari-schema.js';
import { notifierSectionDecl } from './notifier-schema.js';
import { FIXED_SECTIONS } from './schema.js';

export interface KeyDoc {
  readonly key: string;
  /** As written in the file; '' when there is no default. */
  readonly default: string;
  readonly help: string;
  /** Shown uncommented in cmpha.conf.example with this value. */
  readonly example?: string;
}

export interface SectionDoc {
  readonly section: string;
  readonly help: string;
  readonly keys: readonly KeyDoc[];
  /** Keys that depend on another key's value (a notifier's type). */
  readonly variants?: readonly { readonly title: string; readonly keys: readonly KeyDoc[] }[];
}

function keyDocs(decls: Decls): KeyDoc[] {
  return Object.values(decls).flatMap((d: Decl): KeyDoc[] => {
    const example = d.example !== undefined ? { example: d.example } : {};
    if (d.kind === 'secret') {
      return [
        { key: d.ini, default: '', help: d.help, ...example },
        { key: `${d.ini}_file`, default: '', help: `File holding ${d.ini} (trailing newline ignored).` },
      ];
    }
    return [{ key: d.ini, default: d.default, help: d.help, ...example }];
  });
}

const ORDER = ['cloud', 'ser', 'DEFAULT', 'detector', 'fencing', 'ceph', 'host_defaults', 'host:NAME', 'segment:NAME', 'evacuation', 'remediation', 'instance_failure', 'notifier:NAME', 'escalation', 'redis', 'metrics', 'api', 'logging'];

export const CONFIG_REFERENCE: readonly SectionDoc[] = [
  ...FIXED_SECTIONS.map((s) => ({ section: s.name, help: s.help, keys: keyDocs(s.decls) })),
  { section: hostDefaultsSection.name, help: hostDefaultsSection.help, keys: keyDocs(hostDefaultsSection.decls) },
  { section: hostSectionDecl.name, help: hostSectionDecl.help, keys: keyDocs(hostSectionDecl.decls) },
  { section: segmentSectionDecl.name, help: segmentSectionDecl.help, keys: keyDocs(segmentSectionDecl.decls) },
  { section: instanceFailureSection.name, help: instanceFailureSection.help, keys: keyDocs(instanceFailureSection.decls) },
  {
    section: notifierSectionDecl.name, help: notifierSectionDecl.help, keys: keyDocs(notifierSectionDecl.decls),
    variants: Object.entries(CHANNEL_KEYS).map(([type, decls]) => ({ title: `type = ${type}`, keys: keyDocs(decls) })),
  },
].sort((a, b) => ORDER.indexOf(a.section) - ORDER.indexOf(b.section));

function commentLines(text: string, prefix = '#'): string[] {
  const out: string[] = [];
  let line = prefix;
  for (const word of text.split(/\s+/)) {
    if (line.length + word.length + 1 > 100) { out.push(line); line = prefix; }
    line += ` ${word}`;
  }
  out.push(line);
  return out;
}

function keyLines(k: KeyDoc, commented: boolean): string[] {
  const out = commentLines(`${k.help}${k.default ? ` Default: ${k.default}.` : ''}`);
  const value = k.default && !k.default.includes(' ') ? ` ${k.default}` : '';
  if (k.example !== undefined && !commented) out.push(`${k.key} = ${k.example}`);
  else out.push(`# ${k.key} =${k.example !== undefined ? ` ${k.example}` : value}`);
  return out;
}

/** Commented channel sections: how to page by email, SMS and phone. Values are placeholders. */
const CHANNEL_EXAMPLES: readonly { readonly help: string; readonly lines: readonly string[] }[] = [
  {
    help: 'Email (SMTP) to the admins, warnings and worse. Keys: see type = email in docs/configuration.md.',
    lines: ['[notifier:ops-mail]', 'type = email', 'min_severity = warning', 'recipients = ops@example.org', 'host = smtp.example.org',
      'tls = starttls', 'username = cmpha', 'password_file = /etc/cmpha/smtp-password', 'from = cmpha <cmpha@example.org>'],
  },
  {
    help: 'SMS through Twilio (preset twilio-sms; other presets: twilio-call, slack, generic-json, custom).',
    lines: ['[notifier:sms]', 'type = webhook', 'preset = twilio-sms', 'min_severity = warning', 'recipients = +15550001111',
      'account_sid = AC0123456789abcdef0123456789abcdef', 'auth_token_file = /etc/cmpha/twilio-token', 'from = +15559990000'],
  },
  {
    help: 'Phone call to the on-call person for critical events, repeated until acknowledged ([escalation]).',
    lines: ['[notifier:pager]', 'type = webhook', 'preset = twilio-call', 'audience = oncall', 'recipients = +15550001111',
      'account_sid = AC0123456789abcdef0123456789abcdef', 'auth_token_file = /etc/cmpha/twilio-token', 'from = +15559990000'],
  },
];

/** cmpha.conf.example: every key, its default and meaning; example values uncommented. */
export function renderExampleConfig(): string {
  const out = ['# cmpha.conf: every key with its default and meaning. Generated from the key declarations (src/config/schema.ts',
    '# and the modules that own driver and channel keys) by `npm run gen:config`.',
    '# Durations: 500ms, 20s, 2m, 1h. Lists: comma-separated. Quote values that contain ; or #.',
    '# Several files may be given (--config FILE, repeated, then --config-dir DIR: its *.conf in name order); a key',
    '# set in a later file overrides the same key of an earlier one.', ''];
  for (const s of CONFIG_REFERENCE) {
    if (s.section === 'ser' || s.section === 'DEFAULT' || s.section === 'host_defaults' || s.section === 'segment:NAME') {
      out.push(...commentLines(s.help), `# [${s.section === 'segment:NAME' ? 'segment:rack1' : s.section}]`);
      for (const k of s.keys) out.push(...keyLines(k, true));
      out.push('');
      continue;
    }
    const header = s.section === 'host:NAME' ? 'host:compute1' : s.section === 'notifier:NAME' ? 'notifier:log' : s.section;
    out.push(...commentLines(s.help), `[${header}]`);
    for (const k of s.keys) out.push(...keyLines(k, false));
    out.push('');
    if (s.section === 'notifier:NAME') {
      for (const v of s.variants ?? []) {
        out.push(...commentLines(`Keys of ${v.title}:`));
        for (const k of v.keys) out.push(...commentLines(`  ${k.key}: ${k.help}${k.default ? ` Default: ${k.default}.` : ''}`));
      }
      out.push('');
      for (const c of CHANNEL_EXAMPLES) out.push(...commentLines(c.help), ...c.lines.map((l) => `# ${l}`), '');
    }
  }
  return out.join('\n');
}

function table(keys: readonly KeyDoc[]): string[] {
  return ['| key | default | meaning |', '| --- | --- | --- |',
    ...keys.map((k) => `| \`${k.key}\` | ${k.default ? `\`${k.default}\`` : ''} | ${k.help.replace(/\|/g, '\\|')} |`)];
}

/** docs/configuration.md. */
export function renderConfigDocs(): string {
  const out = ['# Configuration reference', '',
    'Generated from the key declarations (`src/config/schema.ts`, `src/config/host-schema.ts`, `src/fencing/*-keys.ts`, `src/fencing/ceph/ceph-keys.ts`, `src/notifier/channel-keys.ts`) by `npm run gen:config`; a test fails when it is out of date.', '',
    '`cmpha.conf` is an INI file in the OpenStack `.conf` style. Durations take units (`500ms`, `20s`, `2m`, `1h`), lists are comma-separated, booleans are `true`/`false`. Quote a value that contains `;` or `#` (they start comments). Any secret key has a `*_file` form. Problems are reported one per line with file, line, section and key, and `cmpha` exits 2; an unknown key or section gets a "did you mean". A section may appear once per file.', '',
    '## Files', '',
    'As oslo.config\'s --config-file: `cmpha --config FILE` (repeatable, before the command or after it; the command\'s own `--config` files replace the global ones) and `cmpha --config-dir DIR` (repeatable; its `*.conf` files in name order, after the files). A key set in a later file overrides the same key of the same section in an earlier one; sections merge. Without options: `$CMPHA_CONFIG` (a file) and `$CMPHA_CONFIG_DIR`, else `/etc/cmpha/cmpha.conf` and `/etc/cmpha/cmpha.conf.d/` when they exist.', '',
    '## Fleets', '',
    'Hosts share settings through `[host_defaults]` and pattern sections (`[host:compute-*]`, shell wildcards `*` and `?`). A host takes, lowest first: `[host_defaults]`, each matching pattern section in file order, its own `[host:NAME]`. Pattern sections declare no host and may not set `mgmt_ip` or `address`; a pattern that matches no host is a warning. 500 hosts are then 500 sections of one or two lines (or a generated file in `--config-dir`):', '',
    '```ini', '[host_defaults]', 'driver = ipmi', 'username = admin', 'password_file = /etc/cmpha/bmc-password', 'ipmi_cipher_suite = 3', '',
    '[host:compute-gpu-*]', 'driver = redfish', '', '[host:compute-001]', 'address = 192.0.2.101', '```', '',
    '## Warnings', '',
    '`config validate` and `doctor` warn, without failing, when `[detector] instance_networks` is empty (no instance IP can then veto a fence: only Nova and the management IP decide) and when a pattern section matches no host.', ''];
  for (const s of CONFIG_REFERENCE) {
    out.push(`## [${s.section}]`, '', s.help, '', ...table(s.keys), '');
    for (const v of s.variants ?? []) out.push(`### ${v.title}`, '', ...table(v.keys), '');
  }
  return out.join('\n');
}

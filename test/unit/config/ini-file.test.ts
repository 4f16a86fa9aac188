import * as ini from 'ini';
import { describe, expect, it } from 'vitest';
import { parseIni } from '../../../src/config/ini-file.js';

// parseIni decodes values itself, in one pass; operators' files were written against the `ini` package's
// decoding (oslo-style quotes, escapes, comments), so it must read every value the same way.
const VALUES = [
  'plain', '  padded  ', '"double quoted"', "'single quoted'", '"a;b#c"', "'x # y'", '"with \\"escape\\""',
  'a\\;b', 'a\\#b', 'a\\\\b', 'a\\nb', 'trailing\\', 'cut ; here', 'cut # here', '10s  ; seconds', 'true', 'false', 'null',
  '"true"', "'false'", "'123'", '"unterminated', "'", '"', '', 'http://127.0.0.1:5000/v3', 'a=b=c', 'ünïcödé',
];

function viaIni(text: string): Map<string, Record<string, string | boolean>> {
  const decoded = ini.decode(text, { bracketedArray: false }) as Record<string, Record<string, unknown>>;
  const out = new Map<string, Record<string, string | boolean>>();
  for (const [name, section] of Object.entries(decoded)) {
    const values: Record<string, string | boolean> = {};
    for (const [k, v] of Object.entries(section)) values[k] = typeof v === 'boolean' ? v : v === null ? '' : String(v);
    out.set(name, values);
  }
  return out;
}

describe('parseIni', () => {
  it('decodes every value as the ini package does', () => {
    // One section per value: the ini package turns a key repeated across sections into a list, which is not what is compared here.
    const text = VALUES.map((v, i) => `[s${i}]\nkey${i} = ${v}\n`).join('\n');
    expect(new Map([...parseIni(text).sections].map(([k, v]) => [k, { ...v }]))).toEqual(viaIni(text));
  });

  it('keeps line numbers per section and key, and dotted section names whole', () => {
    const p = parseIni('# comment\r\n[host:compute1.example.com]\r\nmgmt_ip = 192.0.2.1\r\n\r\n[redis]\r\nurl = redis://127.0.0.1:6379\r\n');
    expect(p.sections.get('host:compute1.example.com')).toEqual({ mgmt_ip: '192.0.2.1' });
    expect(p.lines.get('host:compute1.example.com')?.get('mgmt_ip')).toBe(3);
    expect(p.lines.get('redis')?.get('url')).toBe(6);
    expect(p.sectionLines.get('redis')).toBe(5);
    expect(p.problems).toEqual([]);
  });

  it('reports a repeated key, a repeated section and an unparseable line with their lines', () => {
    const p = parseIni('[a]\nk = 1\nk = 2\n[a]\nnot a key\n');
    expect(p.problems.map((x) => [x.line, x.message])).toEqual([
      [3, 'key "k" is set twice (first on line 2)'],
      [4, 'section [a] appears twice (first on line 1); merge them into one'],
      [5, 'cannot parse this line (expected [section] or key = value); its text is not shown in case it holds a secret'],
    ]);
    expect(p.sections.get('a')).toEqual({ k: '1,2' });
  });
});

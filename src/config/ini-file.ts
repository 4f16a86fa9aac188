import * as ini from 'ini';

export interface IniProblem {
  readonly line: number;
  readonly section?: string;
  readonly message: string;
}

export interface ParsedIni {
  /** section name → key → raw value. Keys before any section land in `''`. */
  readonly sections: ReadonlyMap<string, Readonly<Record<string, string | boolean>>>;
  /** `section\0key` → line number, for error messages. */
  readonly lines: ReadonlyMap<string, number>;
  /** section → the line of its header. */
  readonly sectionLines: ReadonlyMap<string, number>;
  readonly problems: readonly IniProblem[];
}

const SECTION = /^\s*\[([^\]]*)\]\s*$/;
const KEY = /^\s*([^=\s][^=]*?)\s*=(.*)$/;

/**
 * Parses an OpenStack-style .conf. The `ini` package does the value decoding (quotes, escapes, comments);
 * this scan adds what it lacks for operator-facing errors: line numbers, duplicate keys and lines that are
 * neither a section, a key nor a comment (ini silently drops those, which would hide a typo).
 * Section names may contain dots (`[host:compute1.example.com]`): they are escaped so ini does not nest them.
 */
export function parseIni(text: string): ParsedIni {
  const problems: IniProblem[] = [];
  const lines = new Map<string, number>();
  const sectionLines = new Map<string, number>();
  const escaped: string[] = [];
  let section = '';
  text.split(/\r?\n/).forEach((raw, idx) => {
    const n = idx + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) {
      escaped.push(raw);
      return;
    }
    const s = SECTION.exec(raw);
    if (s) {
      section = s[1]!.trim();
      if (section === '') problems.push({ line: n, message: 'empty section name' });
      // oslo.config would merge the two silently; a second [detector] is far more often a pasted block
      // whose values then override the first one's without anyone noticing.
      const first = sectionLines.get(section);
      if (first !== undefined) problems.push({ line: n, section, message: `section [${section}] appears twice (first on line ${first}); merge them into one` });
      else sectionLines.set(section, n);
      escaped.push(`[${section.replace(/\./g, '\\.')}]`);
      return;
    }
    const k = KEY.exec(raw);
    if (k) {
      const key = k[1]!;
      if (/^\s/.test(raw) && lines.size > 0) {
        problems.push({ line: n, section, message: 'indented line: continuation lines are not supported' });
      }
      const id = `${section}\0${key}`;
      if (lines.has(id)) problems.push({ line: n, section, message: `key "${key}" is set twice (first on line ${lines.get(id)})` });
      else lines.set(id, n);
      const value = k[2]!.trim();
      const quoted = /^(".*"|'.*')$/.test(value);
      // ini cuts a value at ';' or '#'. A password such as `ab#cd` would silently become `ab`; make the
      // operator quote it instead. A comment after whitespace (`10s  ; seconds`) stays a comment.
      if (!quoted && /[^\s\\][;#]/.test(value)) {
        problems.push({ line: n, section, message: `value of "${key}" contains ';' or '#', which would start a comment: put the value in double quotes` });
      }
      escaped.push(`${key} = ${value}`);
      return;
    }
    problems.push({ line: n, section: section || undefined, message: 'cannot parse this line (expected [section] or key = value); its text is not shown in case it holds a secret' });
    escaped.push('');
  });
  const decoded = ini.decode(escaped.join('\n'), { bracketedArray: false }) as Record<string, unknown>;
  const sections = new Map<string, Record<string, string | boolean>>();
  const top: Record<string, string | boolean> = {};
  for (const [name, value] of Object.entries(decoded)) {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      sections.set(name, flatten(value as Record<string, unknown>));
    } else {
      top[name] = scalar(value);
    }
  }
  if (Object.keys(top).length > 0) sections.set('', top);
  return { sections, lines, sectionLines, problems };
}

function flatten(obj: Record<string, unknown>): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = scalar(v);
  return out;
}

function scalar(v: unknown): string | boolean {
  if (typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(String).join(',');
  return v === null || v === undefined ? '' : String(v);
}

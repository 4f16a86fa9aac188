export interface IniProblem {
  readonly line: number;
  readonly section?: string;
  readonly message: string;
}

export interface ParsedIni {
  /** section name → key → decoded value. Keys before any section land in `''`. */
  readonly sections: ReadonlyMap<string, Readonly<Record<string, string | boolean>>>;
  /** section → key → line number, for error messages. */
  readonly lines: ReadonlyMap<string, ReadonlyMap<string, number>>;
  /** section → the line of its header. */
  readonly sectionLines: ReadonlyMap<string, number>;
  readonly problems: readonly IniProblem[];
}

const SECTION = /^\s*\[([^\]]*)\]\s*$/;
/** Lines that cannot be parsed, reported one by one; the rest are counted in one more problem. */
const MAX_UNPARSED_REPORTED = 10;
const KEY = /^\s*([^=\s][^=]*?)\s*=(.*)$/;

/**
 * Parses an OpenStack-style .conf in one pass: values decoded as the `ini` package decodes them (quotes, escapes,
 * comments; see `decodeIni`), plus what it lacks for operator-facing errors: line numbers, duplicate keys and lines
 * that are neither a section, a key nor a comment (ini silently drops those, which would hide a typo).
 * Section names are taken whole: dots in them (`[host:compute1.example.com]`) do not nest.
 * One pass over the text and no second decode: a fleet's cmpha.conf (5,000 host sections, 1 MB) would otherwise
 * be held several times over (lines, a rebuilt copy, the decoder's own tree) while it loads.
 */
export function parseIni(text: string): ParsedIni {
  const problems: IniProblem[] = [];
  const lines = new Map<string, Map<string, number>>([['', new Map()]]);
  const sectionLines = new Map<string, number>();
  const sections = new Map<string, Record<string, string | boolean>>();
  let section = '';
  // The decoded section's values; null for a section that cannot be stored (`__proto__`), whose keys are dropped as ini drops them.
  let values: Record<string, string | boolean> | null = null;
  let sectionKeyLines = lines.get('')!;
  let keysSeen = false;
  const valuesOf = (name: string): Record<string, string | boolean> => {
    let v = sections.get(name);
    if (!v) sections.set(name, (v = {}));
    return v;
  };
  let unparsed = 0;
  let lastUnparsed: { line: number; section: string } | undefined;
  let n = 0;
  for (let pos = 0; pos <= text.length;) {
    let end = text.indexOf('\n', pos);
    if (end < 0) end = text.length;
    const raw = text.charCodeAt(end - 1) === 13 && end > pos ? text.slice(pos, end - 1) : text.slice(pos, end);
    pos = end + 1;
    n += 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) continue;
    const s = SECTION.exec(raw);
    if (s) {
      section = s[1]!.trim();
      if (section === '') problems.push({ line: n, message: 'empty section name' });
      // oslo.config would merge the two silently; a second [detector] is far more often a pasted block
      // whose values then override the first one's without anyone noticing.
      const first = sectionLines.get(section);
      if (first !== undefined) problems.push({ line: n, section, message: `section [${section}] appears twice (first on line ${first}); merge them into one` });
      else sectionLines.set(section, n);
      const decoded = String(decodeIni(section));
      values = decoded === '__proto__' ? null : valuesOf(decoded);
      let kl = lines.get(section);
      if (!kl) lines.set(section, (kl = new Map()));
      sectionKeyLines = kl;
      continue;
    }
    const k = KEY.exec(raw);
    if (k) {
      const key = k[1]!;
      if (/^\s/.test(raw) && keysSeen) {
        problems.push({ line: n, section, message: 'indented line: continuation lines are not supported' });
      }
      keysSeen = true;
      const first = sectionKeyLines.get(key);
      if (first !== undefined) problems.push({ line: n, section, message: `key "${key}" is set twice (first on line ${first})` });
      else sectionKeyLines.set(key, n);
      const value = k[2]!.trim();
      const quoted = /^(".*"|'.*')$/.test(value);
      // A value is cut at ';' or '#'. A password such as `ab#cd` would silently become `ab`; make the
      // operator quote it instead. A comment after whitespace (`10s  ; seconds`) stays a comment.
      if (!quoted && /[^\s\\][;#]/.test(value)) {
        problems.push({ line: n, section, message: `value of "${key}" contains ';' or '#', which would start a comment: put the value in double quotes` });
      }
      const name = String(decodeIni(key));
      if (name === '__proto__') continue;
      const target = values ?? (section === '' ? valuesOf('') : null);
      if (!target) continue;
      const v = decodeIni(value);
      const typed = v === 'true' || v === 'false' ? v === 'true' : v === 'null' ? '' : scalar(v);
      // A repeated key (already a problem above) keeps both values, as ini's array of them would read.
      target[name] = Object.hasOwn(target, name) ? `${String(target[name])},${String(typed)}` : typed;
      continue;
    }
    unparsed += 1;
    if (unparsed <= MAX_UNPARSED_REPORTED) problems.push({ line: n, section: section || undefined, message: 'cannot parse this line (expected [section] or key = value); its text is not shown in case it holds a secret' });
    else lastUnparsed = { line: n, section };
  }
  // A file that is not a cmpha.conf at all (a log, a binary) would otherwise give one problem per line.
  if (lastUnparsed) {
    const more = unparsed - MAX_UNPARSED_REPORTED;
    problems.push({ line: lastUnparsed.line, section: lastUnparsed.section || undefined, message: `${more} more line${more === 1 ? '' : 's'} that cannot be parsed, this one the last (${unparsed} in all): is this file a cmpha.conf?` });
  }
  if (lines.get('')!.size === 0) lines.delete('');
  return { sections, lines, sectionLines, problems };
}

/**
 * One value (or key, or section name) decoded as the `ini` package's `unsafe` does: a quoted value is unquoted
 * (double quotes as JSON), otherwise it ends at the first unescaped ';' or '#', and `\;`, `\#`, `\\` stand for
 * the character. Built from slices of the line rather than character by character.
 */
export function decodeIni(text: string): unknown {
  const val = text.trim();
  if (val.length > 0 && ((val.startsWith('"') && val.endsWith('"')) || (val.startsWith("'") && val.endsWith("'")))) {
    const inner = val.startsWith("'") ? val.slice(1, -1) : val;
    try {
      return JSON.parse(inner) as unknown;
    } catch {
      return inner;
    }
  }
  let out = '';
  let from = 0;
  for (let i = 0; i < val.length; i++) {
    const c = val.charCodeAt(i);
    if (c === 92 /* \ */ && i + 1 < val.length) {
      const next = val[i + 1]!;
      out += val.slice(from, i) + (next === '\\' || next === ';' || next === '#' ? next : `\\${next}`);
      i += 1;
      from = i + 1;
    } else if (c === 59 /* ; */ || c === 35 /* # */) {
      return (out + val.slice(from, i)).trim();
    }
  }
  return (out + val.slice(from)).trim();
}

function scalar(v: unknown): string | boolean {
  if (typeof v === 'boolean') return v;
  return v === null || v === undefined ? '' : String(v);
}

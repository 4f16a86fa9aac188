import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// docs/architecture.md names files, lines and functions of the code; code moves. Every link must reach a file, every
// `#Lnn` a line that does what the link says, every `#heading` a heading, and every function it names must exist.

const DOC = 'docs/architecture.md';
const text = readFileSync(DOC, 'utf8');
const docDir = path.dirname(DOC);

interface Link { readonly label: string; readonly target: string; readonly line: number }

function links(md: string): Link[] {
  const out: Link[] = [];
  md.split('\n').forEach((l, i) => {
    for (const m of l.matchAll(/\[([^\]]+)\]\(([^)\s]+)\)/g)) out.push({ label: m[1]!, target: m[2]!, line: i + 1 });
  });
  // A link whose text wraps onto the next line.
  for (const m of md.matchAll(/\[([^\]]*\n[^\]]*)\]\(([^)\s]+)\)/g)) out.push({ label: m[1]!.replace(/\s+/g, ' '), target: m[2]!, line: md.slice(0, m.index).split('\n').length });
  return out.filter((k) => !/^[a-z]+:/.test(k.target));
}

/** GitHub's anchor for a heading. */
const slug = (h: string) => h.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
const headings = (md: string) => new Set(md.split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, ''))));

/** Whether `source` declares `name` (a function, constant, class, type or method). */
function declares(source: string, name: string): boolean {
  const n = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(function\\*?|const|let|class|interface|type|enum)\\s+${n}\\b|^\\s*(async\\s+)?${n}\\s*[(<]`, 'm').test(source);
}

const identifier = (label: string) => /^`([A-Za-z_$][\w$]*)`$/.exec(label)?.[1];

function problems(md: string, dir: string): string[] {
  const found: string[] = [];
  for (const k of links(md)) {
    const [file, anchor] = k.target.split('#') as [string, string | undefined];
    const where = `${DOC}:${k.line} [${k.label}](${k.target})`;
    const target = file === '' ? DOC : path.join(dir, file);
    if (!existsSync(target)) {
      found.push(`${where}: no file ${target}`);
      continue;
    }
    const source = readFileSync(target, 'utf8');
    const name = identifier(k.label);
    if (anchor && /^L\d+$/.test(anchor)) {
      const at = source.split('\n')[Number(anchor.slice(1)) - 1];
      if (at === undefined) found.push(`${where}: ${target} has no line ${anchor.slice(1)}`);
      // A named function: the line declares or calls it. A plain label: the line is code that does something (a call, a declaration).
      else if (name ? !declares(at, name) && !at.includes(`${name}(`) : /^\s*(\/\/|\*|\/\*\*)/.test(at) || !/\w\s*\(|\b(const|let|await|return)\b/.test(at)) {
        found.push(`${where}: line ${anchor.slice(1)} of ${target} is "${at.trim()}"`);
      }
    } else if (anchor) {
      if (!headings(source).has(anchor)) found.push(`${where}: no heading #${anchor} in ${target}`);
    }
    if (name && !declares(source, name)) found.push(`${where}: ${target} declares no ${name}`);
  }
  // Files named in backticks (tests, sources) must exist too.
  for (const m of md.matchAll(/`((?:src|test|docs|bench|scripts)\/[\w./-]+\.(?:ts|md|mjs|js))`/g)) {
    if (!existsSync(m[1]!)) found.push(`${DOC}: names ${m[1]}, which does not exist`);
  }
  return found;
}

describe('docs/architecture.md', () => {
  it('every link reaches a file, every line anchor a line that does what the link says, every heading anchor a heading, every named function exists', () => {
    expect(problems(text, docDir)).toEqual([]);
  });

  it('the check finds a moved file, a line off by one, a missing heading and a renamed function', () => {
    const bad = [
      '[`classify`](../src/detector/classify.ts#L55)',
      '[`assertFenced`](../src/incidents/fence-guard.ts#L1)',
      '[evacuate-server](../src/evacuator/evacuate-server.ts#L1)',
      '[When fencing fails](operations.md#when-fencing-is-late)',
      '[`noSuchFunction`](../src/incidents/fence-guard.ts)',
      '`test/unit/detector/classify.test.ts`',
    ].join('\n');
    const found = problems(bad, docDir);
    expect(found).toHaveLength(6);
    expect(found.join('\n')).toMatch(/no file docs\/..\/src\/detector\/classify.ts|no file src\/detector\/classify.ts/);
    expect(found.join('\n')).toMatch(/line 1 of/);
    expect(found.join('\n')).toMatch(/no heading #when-fencing-is-late/);
    expect(found.join('\n')).toMatch(/declares no noSuchFunction/);
    expect(found.join('\n')).toMatch(/names test\/unit\/detector\/classify.test.ts/);
  });
});

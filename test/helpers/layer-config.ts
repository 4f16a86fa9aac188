import { readFileSync, writeFileSync } from 'node:fs';

/**
 * Writes `file` with `overrides` laid over it: a key of a section the file has replaces its line there, a new key
 * is added to that section, a new section is appended. One file with each section once, as an operator edits it.
 */
export function layerConfig(file: string, overrides: Readonly<Record<string, Readonly<Record<string, string>>>>): void {
  const lines = readFileSync(file, 'utf8').split('\n');
  const pending = new Map(Object.entries(overrides).map(([s, kv]) => [s, new Map(Object.entries(kv))]));
  const out: string[] = [];
  let section: string | null = null;
  const flush = () => {
    const rest = section === null ? undefined : pending.get(section);
    if (rest) for (const [k, v] of rest) out.push(`${k} = ${v}`);
    if (section !== null) pending.delete(section);
  };
  for (const line of lines) {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header) {
      flush();
      section = header[1]!;
      out.push(line);
      continue;
    }
    const kv = /^\s*([^=#;\s][^=]*?)\s*=/.exec(line);
    const mine = section === null ? undefined : pending.get(section);
    if (kv && mine?.has(kv[1]!)) {
      out.push(`${kv[1]} = ${mine.get(kv[1]!)}`);
      mine.delete(kv[1]!);
      continue;
    }
    out.push(line);
  }
  flush();
  for (const [s, kv] of pending) out.push('', `[${s}]`, ...[...kv].map(([k, v]) => `${k} = ${v}`));
  writeFileSync(file, `${out.join('\n')}\n`, { mode: 0o600 });
}

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ConfigIssue } from './config-error.js';
import { parseIni } from './ini-file.js';

export const DEFAULT_CONFIG_PATH = '/etc/cmpha/cmpha.conf';

/** One value as written: where it came from, for error messages. */
export interface RawValue {
  readonly value: string | boolean;
  readonly file: string;
  readonly line: number;
  /** The section it was written in (a host may inherit a value from [host_defaults]). */
  readonly section: string;
}

export type RawSection = ReadonlyMap<string, RawValue>;

export interface ConfigSources {
  /** The files read, in order; later ones override earlier ones key by key. */
  readonly files: readonly string[];
  readonly sections: ReadonlyMap<string, RawSection>;
  /** Where each section was first opened. */
  readonly headers: ReadonlyMap<string, { readonly file: string; readonly line: number }>;
  readonly problems: readonly ConfigIssue[];
}

export interface ConfigLocation {
  /** Config files in order (oslo's --config-file). */
  readonly paths?: readonly string[];
  /** Directories whose `*.conf` files are read after the files, in name order (oslo's --config-dir). */
  readonly dirs?: readonly string[];
}

/**
 * Which files make up the configuration, in the order oslo.config reads them: every --config-file, then each
 * --config-dir's `*.conf` in name order. With neither, CMPHA_CONFIG (a file), CMPHA_CONFIG_DIR, else
 * /etc/cmpha/cmpha.conf if it exists and then /etc/cmpha/cmpha.conf.d if it exists.
 */
export function configFiles(loc: ConfigLocation, env: Readonly<Record<string, string | undefined>>, problems: ConfigIssue[]): string[] {
  let paths = [...(loc.paths ?? [])];
  let dirs = [...(loc.dirs ?? [])];
  if (paths.length === 0 && dirs.length === 0) {
    if (env.CMPHA_CONFIG) paths = [env.CMPHA_CONFIG];
    if (env.CMPHA_CONFIG_DIR) dirs = [env.CMPHA_CONFIG_DIR];
    if (paths.length === 0 && dirs.length === 0) {
      if (existsSync(DEFAULT_CONFIG_PATH)) paths = [DEFAULT_CONFIG_PATH];
      if (existsSync(`${DEFAULT_CONFIG_PATH}.d`)) dirs = [`${DEFAULT_CONFIG_PATH}.d`];
    }
  }
  const out = [...paths];
  for (const dir of dirs) {
    let names: string[];
    try {
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
      names = readdirSync(dir).filter((n) => n.endsWith('.conf')).sort();
    } catch (err) {
      problems.push({ file: dir, message: `cannot read config directory: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    out.push(...names.map((n) => path.join(dir, n)));
  }
  return out;
}

/** Reads and merges the files: a key set in a later file overrides the same key of the same section. */
export function readConfigSources(files: readonly string[]): ConfigSources {
  const problems: ConfigIssue[] = [];
  const sections = new Map<string, Map<string, RawValue>>();
  const headers = new Map<string, { file: string; line: number }>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      problems.push({ file, message: `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    const parsed = parseIni(text);
    for (const p of parsed.problems) problems.push({ file, line: p.line, ...(p.section !== undefined ? { section: p.section } : {}), message: p.message });
    for (const [name, line] of parsed.sectionLines) if (!headers.has(name)) headers.set(name, { file, line });
    for (const [name, values] of parsed.sections) {
      let target = sections.get(name);
      if (!target) sections.set(name, (target = new Map()));
      const lines = parsed.lines.get(name);
      for (const [key, value] of Object.entries(values)) {
        target.set(key, { value, file, line: lines?.get(key) ?? 0, section: name });
      }
    }
  }
  return { files, sections, headers, problems };
}

/** The plain values of a section, as the zod schemas take them. */
export function plain(section: RawSection | undefined): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [k, v] of section ?? []) out[k] = v.value;
  return out;
}

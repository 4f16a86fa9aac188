import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/types.js';

/** A minimal [cloud] section, for texts that are about something else. */
export const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';

/**
 * Loads config texts as files in one temporary folder, as `loadConfig` reads an operator's file (no environment).
 * `problems` returns the refusal's lines, and fails when the text is accepted.
 */
export function configTexts(prefix = CLOUD): { load(text: string): Promise<Config>; problems(text: string): Promise<string[]>; dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-config-'));
  let n = 0;
  const load = (text: string) => {
    const p = path.join(dir, `c${n++}.conf`);
    writeFileSync(p, prefix + text);
    return loadConfig({ path: p, env: {}, cwd: dir });
  };
  return {
    dir, load,
    async problems(text) {
      try { await load(text); } catch (err) { if (err instanceof ConfigError) return err.lines(); throw err; }
      throw new Error('expected the config to be refused');
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

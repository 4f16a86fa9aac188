import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_CHECKS } from '../../../src/app/config-checks.js';
import { ConfigError, loadConfig, type ConfigIssue } from '../../../src/config/load.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-deprecated-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';

describe('[detector] confirm_rounds, removed by the timed detector', () => {
  it('an existing config that still sets it loads, with a warning naming min_silence and probe_interval', async () => {
    const file = path.join(dir, 'old.conf');
    writeFileSync(file, `${CLOUD}[detector]\nconfirm_rounds = 3\nmin_silence = 7s\n`);
    const warnings: ConfigIssue[] = [];
    const cfg = await loadConfig({ path: file, env: {}, checks: CONFIG_CHECKS, onWarning: (w) => warnings.push(w) });
    expect(cfg.detector.minSilenceMs).toBe(7000);
    expect(cfg.detector).not.toHaveProperty('confirmRounds');
    expect(warnings).toEqual([expect.objectContaining({ file, line: 8, section: 'detector', key: 'confirm_rounds', message: expect.stringMatching(/deprecated and ignored.*min_silence.*probe_interval/) })]);
  });

  it('is still only accepted in [detector]: the other keys of the section are checked as before', async () => {
    const file = path.join(dir, 'bad.conf');
    writeFileSync(file, `${CLOUD}[detector]\nconfirm_rounds = 3\nmin_silense = 7s\n`);
    const err = await loadConfig({ path: file, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).lines()).toEqual([expect.stringMatching(/:9 \[detector\] min_silense: unknown key \(did you mean min_silence\?\)/)]);
  });
});

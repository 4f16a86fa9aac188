import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Runs the built binary as an operator would (npm test builds before vitest runs): whatever `config validate`
// refuses, `cmpha run` refuses the same way before it connects to anything.
const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-cli-holes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cmpha(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir }, timeout: 60_000 });
}
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:9/v3\nusername = a\npassword = cloud-pw-1\nuser_domain_name = D\nproject_name = p\n';

const HOLES: Record<string, string> = {
  'duplicate [detector]': `${CLOUD}[detector]\ninterval = 10s\n[detector]\nprobe_count = 3\n`,
  'empty password_file': `${CLOUD}[redis]\npassword_file =\n`,
  'redis url not a URL': `${CLOUD}[redis]\nurl = localhost:6379\n`,
  'redis url wrong scheme': `${CLOUD}[redis]\nurl = http://127.0.0.1:6379\n`,
  'probe = sim without sim_url': `${CLOUD}[detector]\nprobe = sim\n`,
  'unknown section': `${CLOUD}[detectr]\ninterval = 10s\n`,
  'key outside any section': `interval = 10s\n${CLOUD}`,
  '[host:]': `${CLOUD}[host:]\nmgmt_ip = 198.18.0.5\n`,
  'BMC address with an octet over 255': `${CLOUD}[host:c1]\ndriver = ipmi\naddress = 192.0.2.999\nusername = u\npassword = p\n`,
  // 40 MiB: one problem per line once overflowed the stack (exit 2 from validate, 1 from run, no file or line).
  'a million junk lines': `${CLOUD}${'this is not a key = value line, just junk\n'.replace(' = ', ' ').repeat(1_000_000)}`,
};

describe('config holes through the CLI', () => {
  for (const [name, text] of Object.entries(HOLES)) {
    it(`${name}: validate and run both exit 2 with file and line`, () => {
      const f = path.join(dir, `${name.replace(/\W+/g, '-')}.conf`);
      writeFileSync(f, text);
      const v = cmpha('config', 'validate', '--config', f);
      expect(v.status).toBe(2);
      expect(v.stderr).toMatch(new RegExp(`^${f.replace(/[.]/g, '\\.')}:\\d+ `));
      const r = cmpha('run', '--config', f);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(v.stderr);
      expect(v.stderr + r.stderr).not.toContain('cloud-pw-1');
    });
  }
});

describe('config validate masks passwords in URLs', () => {
  it('a Redis password written into the url is taken out of it and printed as ***', () => {
    const f = path.join(dir, 'redis-url-password.conf');
    writeFileSync(f, `${CLOUD}[redis]\nurl = redis://:Redis-Pw-77@127.0.0.1:6390/0\n`);
    const v = cmpha('config', 'validate', '--config', f, '-f', 'json');
    expect(v.status).toBe(0);
    const printed = JSON.parse(v.stdout) as { redis: { url: string; password: string } };
    expect(printed.redis.url).toBe('redis://127.0.0.1:6390/0');
    expect(printed.redis.password).toBe('***');
    expect(v.stdout + v.stderr).not.toContain('Redis-Pw-77');
  });

  it('warns that the instance-IP veto is empty without instance_networks', () => {
    const f = path.join(dir, 'no-instance-networks.conf');
    writeFileSync(f, CLOUD);
    const v = cmpha('config', 'validate', '--config', f, '--quiet');
    expect(v.status).toBe(0);
    expect(v.stderr).toMatch(/^warning: .* \[detector\] instance_networks: is empty: no instance IP can veto a fence/);
  });

  it('several files and a config dir: later ones override earlier ones', () => {
    const base = path.join(dir, 'base.conf');
    writeFileSync(base, `${CLOUD}[detector]\ninterval = 10s\nprobe_count = 3\n`);
    const d = path.join(dir, 'conf.d');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, '10-interval.conf'), '[detector]\ninterval = 20s\n');
    writeFileSync(path.join(d, '20-interval.conf'), '[detector]\ninterval = 30s\n');
    const v = cmpha('--config-dir', d, 'config', 'validate', '--config', base, '-f', 'json');
    expect(v.status).toBe(0);
    const printed = JSON.parse(v.stdout) as { detector: { interval: string; probe_count: string } };
    expect(printed.detector).toMatchObject({ interval: '30s', probe_count: '3' });
  });

  it('a deprecated key is accepted with a warning naming what replaced it', () => {
    const f = path.join(dir, 'confirm-rounds.conf');
    writeFileSync(f, `${CLOUD}[detector]
instance_networks = provider
confirm_rounds = 3
`);
    const v = cmpha('config', 'validate', '--config', f, '--quiet');
    expect(v.status).toBe(0);
    expect(v.stderr).toMatch(/^warning: .*:9 \[detector\] confirm_rounds: is deprecated and ignored: .*min_silence.*probe_interval/);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type ConfigIssue } from '../../../src/config/load.js';

// Malformed configs that used to pass validation (and then crash `cmpha run`) or were refused without saying
// where. Each must be refused with file, line, section and key.

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-holes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
function file(text: string): string {
  const p = path.join(dir, `h${n++}.conf`);
  writeFileSync(p, text);
  return p;
}
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';

async function refused(text: string): Promise<{ f: string; issues: readonly ConfigIssue[]; lines: string[] }> {
  const f = file(text);
  try {
    await loadConfig({ path: f, env: {}, cwd: dir });
  } catch (err) {
    if (err instanceof ConfigError) return { f, issues: err.issues, lines: err.lines() };
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('config holes: refused with file, line, section and key', () => {
  it('a duplicate [detector] section', async () => {
    const { f, issues } = await refused(`${CLOUD}[detector]\ninterval = 10s\n[detector]\nprobe_count = 3\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 9, section: 'detector', message: expect.stringMatching(/appears twice \(first on line 7\)/) })]);
  });

  it('a BMC address of digits and dots that is no IPv4 address is a typo, not a DNS name', async () => {
    for (const bad of ['192.0.2.999', '10.1.2']) {
      const { f, issues } = await refused(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = ${bad}\nusername = u\npassword = p\n`);
      expect(issues).toEqual([expect.objectContaining({ file: f, line: 9, section: 'host:c1', key: 'address', message: `"${bad}" is not a valid IPv4 address (four numbers 0-255 separated by dots) and, all digits, cannot be a DNS name` })]);
    }
    // A name is still a name (resolved at start).
    await expect(loadConfig({ path: file(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = bmc-c1.example.org\nusername = u\npassword = p\n`), env: {}, cwd: dir })).resolves.toBeTruthy();
  });

  it('a 40 MiB file of a million junk lines: refused naming file and lines, no stack overflow', async () => {
    const { f, issues, lines } = await refused(`${CLOUD}${'junk junk junk junk junk junk junk junk!\n'.repeat(1_000_000)}`);
    expect(issues.filter((i) => /cannot parse this line/.test(i.message))).toHaveLength(10);
    expect(issues[0]).toMatchObject({ file: f, line: 7, section: 'cloud' });
    expect(lines).toContain(`${f}:1000006 [cloud]: 999990 more lines that cannot be parsed, this one the last (1000000 in all): is this file a cmpha.conf?`);
  });

  it('an empty password_file', async () => {
    const { f, issues } = await refused(`${CLOUD}[redis]\npassword_file =\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 8, section: 'redis', key: 'password_file', message: expect.stringMatching(/is empty/) })]);
  });

  it('a password_file naming an empty file', async () => {
    const empty = path.join(dir, 'empty-secret');
    writeFileSync(empty, '\n');
    const { f, issues } = await refused(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = 198.18.0.1\nusername = u\npassword_file = ${empty}\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 11, section: 'host:c1', key: 'password_file', message: `secret file ${empty} is empty` })]);
  });

  it('an IPMI password longer than IPMI 2.0 carries (20 bytes), without printing it', async () => {
    const long = 'Aa1!'.repeat(5) + 'x';
    const { f, issues, lines } = await refused(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = 198.18.0.1\nusername = u\npassword = ${long}\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, section: 'host:c1', key: 'password', message: expect.stringMatching(/21 bytes long; IPMI passwords are at most 20 bytes/) })]);
    expect(lines.join('\n')).not.toContain(long);
    // 20 bytes passes for IPMI, and Redfish has no such limit.
    await expect(loadConfig({ path: file(`${CLOUD}[host:c1]\ndriver = ipmi\naddress = 198.18.0.1\nusername = u\npassword = ${long.slice(0, 20)}\n`), env: {}, cwd: dir })).resolves.toBeTruthy();
    await expect(loadConfig({ path: file(`${CLOUD}[host:c1]\ndriver = redfish\naddress = 198.18.0.1\nusername = u\npassword = ${long}${long}\n`), env: {}, cwd: dir })).resolves.toBeTruthy();
  });

  it('a Redis url that is not a URL', async () => {
    const { f, issues } = await refused(`${CLOUD}[redis]\nurl = localhost:6379\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 8, section: 'redis', key: 'url', message: expect.stringMatching(/scheme "localhost:" is not supported \(use redis:\/\/ or rediss:\/\/\)|is not a URL/) })]);
    const garbage = await refused(`${CLOUD}[redis]\nurl = not a url\n`);
    expect(garbage.issues).toEqual([expect.objectContaining({ line: 8, section: 'redis', key: 'url', message: expect.stringMatching(/^is not a URL/) })]);
  });

  it('a Redis url with a wrong scheme', async () => {
    const { issues } = await refused(`${CLOUD}[redis]\nurl = http://127.0.0.1:6379\n`);
    expect(issues).toEqual([expect.objectContaining({ line: 8, section: 'redis', key: 'url', message: 'scheme "http:" is not supported (use redis:// or rediss://)' })]);
  });

  it('probe = sim without sim_url', async () => {
    const { f, issues } = await refused(`${CLOUD}[detector]\nprobe = sim\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 8, section: 'detector', key: 'probe', message: expect.stringMatching(/needs sim_url/) })]);
  });

  it('an unknown section [detectr], with its line and a suggestion', async () => {
    const { f, lines } = await refused(`${CLOUD}[detectr]\ninterval = 10s\n`);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^${f.replace(/[.]/g, '\\.')}:7 \\[detectr\\]: unknown section \\(did you mean detector\\?\\)`))]);
  });

  it('a key outside any section, with its line', async () => {
    const { f, issues } = await refused(`interval = 10s\n${CLOUD}`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 1, key: 'interval', message: expect.stringMatching(/key outside any section; it belongs in \[detector\]/) })]);
  });

  it('[host:] with its line', async () => {
    const { f, issues } = await refused(`${CLOUD}[host:]\nmgmt_ip = 198.18.0.5\n`);
    expect(issues).toEqual([expect.objectContaining({ file: f, line: 7, section: 'host:', message: expect.stringMatching(/host name missing/) })]);
  });

  it('an unknown key gets a "did you mean"', async () => {
    const { lines } = await refused(`${CLOUD}[detector]\nintervall = 10s\n`);
    expect(lines).toEqual([expect.stringMatching(/:8 \[detector\] intervall: unknown key \(did you mean interval\?\)/)]);
  });
});

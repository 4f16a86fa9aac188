import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const unit = readFileSync(`${root}deploy/systemd/cmpha.service`, 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'cmpha-unit-'));

/** Directives as `Section.Key` → values (a key may repeat). */
function directives(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(.+)\]$/.exec(line);
    if (s) { section = s[1]!; continue; }
    const eq = line.indexOf('=');
    const key = `${section}.${line.slice(0, eq).trim()}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

/**
 * systemd-analyze only warns about unknown keys and bad values (rc 0), so any output line about our unit is a
 * failure. Other units installed on the machine may print their own complaints; those lines do not name ours.
 */
function verify(text: string, name = 'cmpha.service') {
  // ExecStart must exist where verify runs: point it at this checkout's launcher under this node.
  const runnable = text.replace(/^ExecStart=\/usr\/bin\/cmpha /m, `ExecStart=${process.execPath} ${root}bin/cmpha.js `);
  const path = join(tmp, name);
  writeFileSync(path, runnable);
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', timeout: 60_000 });
  const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes(name) || l.includes(tmp));
  return { status: r.status, lines };
}

describe('systemd unit', () => {
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('passes systemd-analyze verify without a single complaint', () => {
    const r = verify(unit);
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('the check catches unknown keys and bad values', () => {
    const broken = unit.replace('RestartSec=5', 'RestartSec=5\nRestartSecs=5\nProtectSystem=sometimes');
    expect(verify(broken, 'cmpha-broken.service').lines.length).toBeGreaterThanOrEqual(2);
  });

  it('runs the installed launcher with the standard config path', () => {
    const d = directives(unit);
    expect(d.get('Service.Type')).toEqual(['simple']);
    expect(d.get('Service.ExecStart')).toEqual(['/usr/bin/cmpha run --config /etc/cmpha/cmpha.conf']);
    expect(d.get('Service.Restart')).toEqual(['on-failure']);
    expect(d.get('Service.RestartSec')).toEqual(['5']);
    expect(d.get('Unit.After')?.join(' ')).toMatch(/network-online\.target.*redis-server\.service/);
    expect(d.get('Install.WantedBy')).toEqual(['multi-user.target']);
  });

  it('filters system calls, hides other processes and /proc, and reads an optional /etc/default/cmpha', () => {
    const d = directives(unit);
    expect(d.get('Service.SystemCallFilter')).toEqual(['@system-service', '~@privileged @resources']);
    expect(d.get('Service.SystemCallErrorNumber')).toEqual(['EPERM']);
    expect(d.get('Service.ProtectProc')).toEqual(['invisible']);
    expect(d.get('Service.ProcSubset')).toEqual(['pid']);
    expect(d.get('Service.EnvironmentFile')).toEqual(['-/etc/default/cmpha']);
    expect(d.get('Service.RestartPreventExitStatus')).toEqual(['2']);
  });

  it('scores what docs/operations.md says in systemd-analyze security, with the same findings', () => {
    const runnable = unit.replace(/^ExecStart=\/usr\/bin\/cmpha /m, `ExecStart=${process.execPath} ${root}bin/cmpha.js `);
    const path = join(tmp, 'cmpha.service');
    writeFileSync(path, runnable);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', path], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const findings = r.stdout.split('\n').filter((l) => /^(✗|→)/.test(l)).map((l) => l.trimEnd());
    const overall = /Overall exposure level for cmpha\.service: (\d+\.\d+)/.exec(r.stdout)?.[1];
    expect(Number(overall)).toBeLessThanOrEqual(2);
    const docs = readFileSync(`${root}docs/operations.md`, 'utf8');
    for (const f of findings) expect(docs, f).toContain(f);
  });

  it('runs unprivileged with only CAP_NET_RAW, granted as an ambient capability for fping', () => {
    const d = directives(unit);
    expect(d.get('Service.User')).toEqual(['cmpha']);
    expect(d.get('Service.Group')).toEqual(['cmpha']);
    expect(d.get('Service.AmbientCapabilities')).toEqual(['CAP_NET_RAW']);
    expect(d.get('Service.CapabilityBoundingSet')).toEqual(['CAP_NET_RAW']);
    expect(d.get('Service.NoNewPrivileges')).toEqual(['yes']);
  });

  it('grants enough for fping to ping as an unprivileged user with no new privileges', () => {
    const d = directives(unit);
    const caps = (key: string) => (d.get(`Service.${key}`) ?? []).join(' ').split(/\s+/).filter(Boolean)
      .map((c) => c.replace(/^CAP_/, '').toLowerCase());
    // setpriv applies the unit's user-independent settings the way systemd does, then execs fping as nobody.
    const asService = (ambient: string[], bounding: string[]) => spawnSync('setpriv', [
      '--reuid=65534', '--regid=65534', '--clear-groups',
      `--inh-caps=-all${ambient.map((c) => `,+${c}`).join('')}`,
      `--ambient-caps=-all${ambient.map((c) => `,+${c}`).join('')}`,
      `--bounding-set=-all${bounding.map((c) => `,+${c}`).join('')}`,
      ...(d.get('Service.NoNewPrivileges')?.[0] === 'yes' ? ['--no-new-privs'] : []),
      'fping', '-c', '1', '-t', '500', '-q', '127.0.0.1',
    ], { encoding: 'utf8', timeout: 20_000 });
    const granted = asService(caps('AmbientCapabilities'), caps('CapabilityBoundingSet'));
    expect(granted.status, granted.stderr).toBe(0);
    expect(granted.stderr).toContain('127.0.0.1 : xmt/rcv/%loss = 1/1/0%');
    // Without the capability in the bounding set, fping cannot run at all: the setting is what makes it work.
    expect(asService([], []).status).not.toBe(0);
  });

  it('sandboxes the file system', () => {
    const d = directives(unit);
    expect(d.get('Service.ProtectSystem')).toEqual(['strict']);
    expect(d.get('Service.ProtectHome')).toEqual(['yes']);
    expect(d.get('Service.PrivateTmp')).toEqual(['yes']);
    expect(d.get('Service.ReadOnlyPaths')).toEqual(['/etc/cmpha']);
  });
});

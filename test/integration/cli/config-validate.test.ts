import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

// Runs the built binary as an operator would (npm test builds before vitest runs).
const bin = new URL('../../../bin/cmpha.js', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cmpha(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir } });
}

describe('cmpha config validate', () => {
  const example = new URL('../../../cmpha.conf.example', import.meta.url).pathname;
  it('exits 0 on the shipped example and prints it under its INI keys with secrets masked', () => {
    const r = cmpha('config', 'validate', '--config', example);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\[detector\]\ninterval = \d+m?s\n/m);
    expect(r.stdout).toMatch(/^password = \*\*\*$/m);
    expect(r.stdout).not.toMatch(/intervalMs|CHANGE_ME/);
    // Every host key in effect, its storage and tunnel addresses included; the levels as written (two levels).
    expect(r.stdout).toMatch(/^storage_ip = 192\.0\.2\.51\ntunnel_ip = 192\.0\.2\.91$/m);
    expect(r.stdout).toMatch(/^fence_levels = ipmi \| ceph$/m);
    const printed = JSON.parse(cmpha('config', 'validate', '--config', example, '-f', 'json').stdout) as Record<string, Record<string, string>>;
    expect(printed.cloud!.password).toBe('***');
    expect(printed.detector!.heartbeat_timeout).toBe('30s');
  });

  it('takes --config before the subcommand, -c columns and -f value', () => {
    const r = cmpha('--config', example, 'config', 'validate', '-f', 'value', '-c', 'key', '-c', 'value');
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')).toContain('min_silence 5s');
  });

  it('refuses a -c that names a file or a column the command does not have, naming the columns and --config', () => {
    const asPath = cmpha('config', 'validate', '-c', '/etc/cmpha/cmpha.conf');
    expect(asPath.status).toBe(2);
    expect(asPath.stdout).toBe('');
    expect(asPath.stderr.trim()).toBe('cmpha config validate: -c /etc/cmpha/cmpha.conf: a column name was expected, not a file (columns: SECTION, KEY, VALUE, FROM); -c is --column (a column name); the config file is --config PATH');
    const unknown = cmpha('config', 'validate', '--config', example, '-c', 'cmpha.conf');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('(columns: SECTION, KEY, VALUE, FROM)');
  });

  it('refuses a -c that names no column of the command, for lists and shows alike', () => {
    const noSuch = cmpha('config', 'validate', '--config', example, '-c', 'colour');
    expect(noSuch.status).toBe(2);
    expect(noSuch.stderr.trim()).toBe('cmpha config validate: -c colour: no such column (columns: SECTION, KEY, VALUE, FROM); -c is --column (a column name); the config file is --config PATH');
    expect(noSuch.stdout).toBe('');
    const show = cmpha('incidents', 'show', 'inc-1', '-c', './cmpha.conf');
    expect(show.status).toBe(2);
    expect(show.stderr).toContain('the config file is --config PATH');
  });

  it('without a config file says once that /etc/cmpha/cmpha.conf does not exist and how to point at one', () => {
    const r = cmpha('config', 'validate');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe('/etc/cmpha/cmpha.conf: does not exist, and neither --config, $CMPHA_CONFIG nor --config-dir names another config file: write one (cmpha.conf.example lists every key) or point at it with --config PATH or CMPHA_CONFIG=PATH\n');
  });

  it('check --storage without a [ceph] section is a config problem (exit 2), not a blind controller (3)', () => {
    const f = path.join(dir, 'no-ceph.conf');
    writeFileSync(f, '[cloud]\nauth_url = http://127.0.0.1:9/v3\nusername = a\npassword = p\nuser_domain_name = D\nproject_name = p\n');
    const r = cmpha('check', '--storage', '--config', f);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`cmpha check --storage: ${f} has no [ceph] section with keyring_file`);
  });

  it('lists every exit code in --help', () => {
    const r = cmpha('--help');
    expect(r.status).toBe(0);
    for (const code of ['0', '1', '2', '3']) expect(r.stdout).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
  });

  it('exits 2 naming the section and key of `interval = soon`', () => {
    const f = path.join(dir, 'bad.conf');
    writeFileSync(f, '[cloud]\nauth_url = http://127.0.0.1/v3\nusername = a\npassword = topsecret\nuser_domain_name = D\nproject_name = p\n[detector]\ninterval = soon\n');
    const r = cmpha('config', 'validate', '--config', f);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe(`${f}:8 [detector] interval: "soon" is not a duration (use e.g. 500ms, 20s, 2m, 1h)`);
    expect(r.stderr + r.stdout).not.toContain('topsecret');
  });

  it('prints the version', () => {
    const r = cmpha('--version');
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('exits 2 on an unknown command', () => {
    const r = cmpha('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});

describe('cmpha config validate: channel options', () => {
  it('exits 2 naming the notifier section and key of a bad channel option', () => {
    const f = path.join(dir, 'bad-notifier.conf');
    writeFileSync(f, '[cloud]\nauth_url = http://127.0.0.1/v3\nusername = a\npassword = p\nuser_domain_name = D\nproject_name = p\n[notifier:mail]\ntype = email\n');
    const r = cmpha('config', 'validate', '--config', f);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/\[notifier:mail\] \S+: /);
  });
});

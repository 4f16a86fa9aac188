import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// One list of the Debian packages the tests need: scripts/setup.mjs (which installs them as root, or names the
// missing ones). README.md prints it and .ci/run installs from it, so a new operator learns all of them at once.
const root = new URL('../../../', import.meta.url).pathname;
const list = (...args: string[]) => execFileSync(process.execPath, ['scripts/setup.mjs', '--list', ...args], { cwd: root, encoding: 'utf8' }).trim().split(' ');

describe('test prerequisites', () => {
  it('setup.mjs --list prints every package, installed or not, and nothing else', () => {
    const test = list();
    for (const pkg of ['redis-server', 'ceph-mon', 'ceph-osd', 'ceph-common', 'python3-rados', 'python3-rbd', 'chromium', 'python3-openstackclient', 'python3-masakariclient']) expect(test).toContain(pkg);
    expect(list('--demo')).toEqual(['redis-server']);
  });

  it('README.md lists exactly those packages, and .ci/run installs them from the same list', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    expect(readme).toContain('`node scripts/setup.mjs --list`');
    expect(readme.split('\n')).toContain(list().join(' '));
    expect(readFileSync(`${root}.ci/run`, 'utf8')).toMatch(/^apt-get install -y -qq --no-install-recommends \$\(node scripts\/setup\.mjs --list\)$/m);
  });

  it('npm\'s install-script policy covers the dependencies that have install scripts', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(`${root}package-lock.json`, 'utf8')) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([p, v]) => p !== '' && v.hasInstallScript).map(([p, v]) => ({ name: p.replace(/^.*node_modules\//, ''), version: v.version }));
    expect(withScripts.length).toBeGreaterThan(0);
    for (const { name, version } of withScripts) {
      const decided = Object.keys(pkg.allowScripts ?? {}).some((k) => k === name || k === `${name}@${version}`);
      expect(decided, `${name}@${version} has an install script: allow or deny it in package.json allowScripts`).toBe(true);
    }
  });
});

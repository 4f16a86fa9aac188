import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// Needs `npm run build` first (CI builds before running vitest): the package ships dist/, not src/.
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { name: string; version: string };

interface PackResult { filename: string; files: { path: string; mode: number }[] }

function npm(args: string[]): string {
  return execFileSync('npm', args, { cwd: root, encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('npm package', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'cmpha-pack-'));
  let files: Map<string, number>;

  beforeAll(() => {
    if (!existsSync(`${root}dist/cli/main.js`)) throw new Error('dist/cli/main.js is missing: run `npm run build` before this test');
    const [result] = JSON.parse(npm(['pack', '--dry-run', '--json'])) as PackResult[];
    files = new Map(result!.files.map((f) => [f.path, f.mode]));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('ships the launcher, the compiled CLI, the example config and the deployment files', () => {
    for (const f of ['package.json', 'bin/cmpha.js', 'dist/cli/main.js', 'cmpha.conf.example',
      'deploy/systemd/cmpha.service', 'deploy/prometheus/cmpha-alerts.yml', 'deploy/prometheus/cmpha-alerts.test.yml',
      'deploy/grafana/cmpha-dashboard.json', 'docs/operations.md', 'docs/install.md', 'LICENSE', 'CHANGELOG.md']) {
      expect(files.has(f), f).toBe(true);
    }
  });

  it('ships the full Apache-2.0 licence text that package.json names', () => {
    const text = readFileSync(`${root}LICENSE`, 'utf8');
    expect((JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { license: string }).license).toBe('Apache-2.0');
    expect(text).toContain('Apache License');
    expect(text).toContain('Version 2.0, January 2004');
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    expect(text.length).toBeGreaterThan(10_000);
  });

  it('makes the launcher executable', () => {
    expect((files.get('bin/cmpha.js') ?? 0) & 0o111).not.toBe(0);
  });

  it('leaves sources, tests and local state out', () => {
    const leaked = [...files.keys()].filter((f) => /^(src|test|bench|scripts|node_modules|\.lab|\.ci|coverage)\//.test(f) || /\.tgz$/.test(f));
    expect(leaked).toEqual([]);
  });

  it('runs from the unpacked tarball and prints its version', () => {
    const [result] = JSON.parse(npm(['pack', '--pack-destination', tmp, '--json'])) as PackResult[];
    const tarball = join(tmp, result!.filename);
    expect(result!.filename).toBe(`${pkg.name}-${pkg.version}.tgz`);
    execFileSync('tar', ['-xzf', tarball, '-C', tmp]);
    // Installing would need the registry; the repository's installed dependencies stand in for them.
    symlinkSync(join(root, 'node_modules'), join(tmp, 'package', 'node_modules'), 'dir');
    const r = spawnSync(process.execPath, [join(tmp, 'package', 'bin', 'cmpha.js'), '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(pkg.version);
    expect(r.status).toBe(0);
  });
});

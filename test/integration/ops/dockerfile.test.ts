import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { startMetricsServer } from '../../../src/metrics/http-server.js';
import { silentLogger } from '../../../src/shared/logger.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dockerfile = readFileSync(`${root}Dockerfile`, 'utf8');
// Join continuation lines so each instruction is one line.
const instructions = dockerfile.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, l) => {
  if (/^FROM\s/i.test(l)) acc.push([]);
  acc.at(-1)?.push(l);
  return acc;
}, []);
const runtime = stages.at(-1)!;
const ignored = readFileSync(`${root}.dockerignore`, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));

function isIgnored(path: string): boolean {
  let out = false;
  for (const p of ignored) {
    const negate = p.startsWith('!');
    const pat = negate ? p.slice(1) : p;
    const re = new RegExp(`^${pat.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) out = !negate;
  }
  return out;
}

describe('Dockerfile', () => {
  it('passes dockerfilelint', () => {
    const r = spawnSync('npx', ['--no-install', 'dockerfilelint', 'Dockerfile'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
    expect(r.stdout).toContain('Issues: None found');
    expect(r.status, r.stdout).toBe(0);
  });

  it('copies only files that exist in the build context and are not excluded by .dockerignore', () => {
    const copies = instructions.filter((l) => /^COPY\s/i.test(l) && !/--from=/.test(l));
    expect(copies.length).toBeGreaterThan(0);
    for (const c of copies) {
      const args = c.split(/\s+/).slice(1).filter((a) => !a.startsWith('--'));
      for (const src of args.slice(0, -1)) {
        expect(existsSync(`${root}${src}`), `${c}: ${src} exists`).toBe(true);
        expect(isIgnored(src), `${c}: ${src} not in .dockerignore`).toBe(false);
      }
    }
  });

  it('keeps the repository, dependencies and build output of the host out of the context', () => {
    for (const p of ['.git', 'node_modules', 'dist', 'test', 'cmpha.conf']) expect(isIgnored(p), p).toBe(true);
  });

  it('builds in one stage and runs from node:20-bookworm-slim as user cmpha with fping and ipmitool', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages[0]!.join('\n')).toMatch(/RUN npm ci\b/);
    expect(stages[0]!.join('\n')).toMatch(/RUN npm run build/);
    expect(runtime[0]).toMatch(/^FROM node:20-bookworm-slim\b/);
    const text = runtime.join('\n');
    expect(text).toMatch(/npm ci --omit=dev/);
    expect(text).toMatch(/apt-get install -y --no-install-recommends fping ipmitool ca-certificates/);
    expect(runtime.filter((l) => /^USER\s/.test(l)).at(-1)).toBe('USER cmpha');
    expect(text).toMatch(/^EXPOSE 9464$/m);
    expect(runtime.at(-1)).toBe('CMD ["cmpha", "run", "--config", "/etc/cmpha/cmpha.conf"]');
  });

  it('has a HEALTHCHECK that succeeds against a live /healthz and fails when nothing answers', async () => {
    const line = runtime.find((l) => l.startsWith('HEALTHCHECK'))!;
    const cmd = JSON.parse(line.slice(line.indexOf('CMD') + 3).trim()) as string[];
    expect(cmd[0]).toBe('node');
    expect(cmd.join(' ')).toContain('http://127.0.0.1:9464/healthz');
    const server = await startMetricsServer({
      listen: { host: '127.0.0.1', port: 0 }, registry: new Registry(), logger: silentLogger,
      readiness: async () => { throw new Error('not used'); },
    });
    // The image's port is fixed; here the same check points at the port this test got.
    const args = cmd.slice(1).map((a) => a.replace('127.0.0.1:9464', `127.0.0.1:${server.port}`));
    // Asynchronous on purpose: the server answering the check lives in this process's event loop.
    const run = () => new Promise<number | null>((resolve) => {
      const child = execFile(process.execPath, args, { timeout: 20_000 }, () => resolve(child.exitCode));
    });
    const healthy = await run();
    await server.close();
    const unhealthy = await run();
    expect(healthy).toBe(0);
    expect(unhealthy).toBe(1);
  });
});

import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  // dockerfile-utils is the linter of the Docker language server (rcjsuen/dockerfile-utils), kept up to date with
  // BuildKit's syntax; an error exits 1, and any warning is printed, so clean means no output at all.
  const lint = (path: string) => spawnSync('npx', ['--no-install', 'dockerfile-utils', 'lint', path], { cwd: root, encoding: 'utf8', timeout: 60_000 });

  it('passes dockerfile-utils lint without a warning', () => {
    const r = lint('Dockerfile');
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  });

  it('the linter catches a broken Dockerfile (so a clean run means something)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cmpha-dockerfile-'));
    try {
      writeFileSync(join(dir, 'Dockerfile'), dockerfile.replace('HEALTHCHECK --interval=30s', 'HEALTHCHECK --intervall=30s'));
      const r = lint(join(dir, 'Dockerfile'));
      expect(r.stdout).toContain('Unknown flag: intervall');
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('labels the image with the OCI annotations: title, licence, version, source, documentation', () => {
    const labels = Object.fromEntries([...runtime.filter((l) => /^LABEL\s/.test(l)).join(' ').matchAll(/(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string; license: string };
    expect(labels).toMatchObject({
      'org.opencontainers.image.title': 'cmpha',
      'org.opencontainers.image.licenses': pkg.license,
      'org.opencontainers.image.version': '${VERSION}',
    });
    expect(runtime.join('\n')).toContain(`ARG VERSION=${pkg.version}`);
    for (const k of ['source', 'documentation', 'revision', 'created', 'description']) expect(labels[`org.opencontainers.image.${k}`], k).toBeTruthy();
  });

  it('says how to run it: NET_RAW for Podman and Docker alike, restart on failure only', () => {
    expect(dockerfile).toMatch(/--cap-add NET_RAW/);
    expect(dockerfile).toMatch(/--restart=on-failure/);
    expect(dockerfile).not.toMatch(/--restart=always/);
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

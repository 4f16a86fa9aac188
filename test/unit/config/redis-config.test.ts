import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { redisOptions } from '../../../src/shared/redis-connect.js';

const dir = mkdtempSync(path.join(tmpdir(), 'cmpha-redis-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';
function write(name: string, text: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, text);
  return p;
}
const load = (redis: string) => loadConfig({ path: write(`c${n++}.conf`, `${CLOUD}[redis]\n${redis}\n`), env: {}, cwd: dir });
async function problems(redis: string): Promise<string[]> {
  try {
    await load(redis);
  } catch (err) {
    if (err instanceof ConfigError) return err.lines();
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('[redis]', () => {
  it('refuses a redis+sentinel:// URL at validation, pointing at the keys that work', async () => {
    const lines = await problems('url = redis+sentinel://:pw@127.0.0.1:26379/mymaster');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[redis\] url: redis\+sentinel:\/\/ URLs are not supported: set sentinels = HOST:PORT,\.\.\. and master_name instead/);
    expect(lines[0]).not.toContain('pw');
  });

  it('refuses other schemes and Cluster, naming the key', async () => {
    expect((await problems('url = http://127.0.0.1:6379'))[0]).toMatch(/\[redis\] url: scheme "http:" is not supported/);
    expect((await problems('url = redis://127.0.0.1:6379/cache'))[0]).toMatch(/is not a database number/);
  });

  it('reads Sentinel mode: sentinels, master name, sentinel password, ACL user', async () => {
    const cfg = await load('url = redis://127.0.0.1/2\nsentinels = 127.0.0.1:26379, [::1]:26380\nmaster_name = cmpha\nsentinel_password = spw\nusername = cmpha\npassword = rpw');
    expect(cfg.redis.sentinels).toEqual([{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }]);
    expect(cfg.redis.masterName).toBe('cmpha');
    expect(cfg.redis.sentinelPassword?.reveal()).toBe('spw');
    const o = redisOptions(cfg.redis, { mode: 'queue' });
    expect(o).toMatchObject({ name: 'cmpha', sentinelPassword: 'spw', username: 'cmpha', password: 'rpw', db: 2, maxRetriesPerRequest: null });
    expect(o.sentinels).toEqual([{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }]);
  });

  it('requires master_name with sentinels, and a valid HOST:PORT per sentinel', async () => {
    expect(await problems('sentinels = 127.0.0.1:26379')).toEqual([expect.stringMatching(/\[redis\] master_name: is required with sentinels/)]);
    expect((await problems('sentinels = 127.0.0.1\nmaster_name = m'))[0]).toMatch(/\[redis\] sentinels: "127.0.0.1" is not HOST:PORT/);
  });

  it('reads TLS: rediss:// implies it; CA and client certificate files are checked and loaded', async () => {
    const ca = write('ca.pem', 'CA-PEM');
    const cert = write('cert.pem', 'CERT-PEM');
    const key = write('key.pem', 'KEY-PEM');
    const cfg = await load(`url = rediss://127.0.0.1:6380\ntls_ca_file = ${ca}\ntls_cert_file = ${cert}\ntls_key_file = ${key}`);
    expect(cfg.redis.tls).toEqual({ ca, cert, key });
    const o = redisOptions(cfg.redis, { mode: 'once' });
    expect(String(o.tls?.ca)).toBe('CA-PEM');
    expect(String(o.tls?.key)).toBe('KEY-PEM');
    expect(await problems(`tls_ca_file = ${ca}`)).toEqual([expect.stringMatching(/tls_ca_file: is set but TLS is off/)]);
    expect(await problems(`tls = true\ntls_cert_file = ${cert}`)).toEqual([expect.stringMatching(/tls_key_file: a client certificate needs both/)]);
    expect(await problems('tls = true\ntls_ca_file = /nonexistent/ca.pem')).toEqual([expect.stringMatching(/tls_ca_file: \/nonexistent\/ca.pem does not exist/)]);
  });

  it('with Sentinel and TLS, speaks TLS to the sentinels and to the master they name', async () => {
    const ca = write('ca2.pem', 'CA2');
    const cfg = await load(`tls = true\ntls_ca_file = ${ca}\nsentinels = 127.0.0.1:26379\nmaster_name = m`);
    const o = redisOptions(cfg.redis, { mode: 'queue' });
    expect(o).toMatchObject({ enableTLSForSentinelMode: true, failoverDetector: true });
    expect(String(o.tls?.ca)).toBe('CA2');
    expect(String(o.sentinelTLS?.ca)).toBe('CA2');
  });

  it('a plain URL keeps its credentials, and the password key wins over the URL', async () => {
    const cfg = await load('url = redis://u1:urlpw@127.0.0.1:6390/1\npassword = keypw');
    expect(redisOptions(cfg.redis, { mode: 'once' })).toMatchObject({ host: '127.0.0.1', port: 6390, db: 1, username: 'u1', password: 'keypw', maxRetriesPerRequest: 0 });
  });

  it('a password given only in the URL is used, but the loaded config (what `config validate` prints) holds it nowhere', async () => {
    const cfg = await load('url = redis://u1:url%40pw-91f3@127.0.0.1:6390/1');
    expect(redisOptions(cfg.redis, { mode: 'once' })).toMatchObject({ username: 'u1', password: 'url@pw-91f3', db: 1 });
    expect(cfg.redis.url).toBe('redis://u1@127.0.0.1:6390/1');
    const printed = JSON.stringify(cfg);
    expect(printed).not.toContain('pw-91f3');
    expect(printed).toContain('"password":"***"');
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config/load.js';
import { RedfishHttp } from '../../../src/fencing/redfish-http.js';
import { createNotificationService } from '../../../src/notifier/service.js';
import { HttpClient } from '../../../src/openstack/http.js';
import { silentLogger } from '../../../src/shared/logger.js';
import { createOutgoingProxy, parseNoProxy, type OutgoingProxy } from '../../../src/shared/outgoing-proxy.js';
import { startRecordingProxy, type RecordingProxy } from '../../helpers/http-proxy.js';
import { startMisbehavingServer, type MisbehavingServer } from '../../helpers/misbehaving-http.js';
import { captureLogger, escalation, event, notifier } from '../../unit/notifier/fixtures.js';

// One proxy rule for every outgoing HTTP client: only [cloud] proxy is used, never HTTP(S)_PROXY from the
// environment, and no_proxy destinations go direct.

let dir: string;
let srv: MisbehavingServer;
let proxy: RecordingProxy;
let tlsSrv: https.Server;
let tlsPort: number;
const saved = { HTTP_PROXY: process.env.HTTP_PROXY, HTTPS_PROXY: process.env.HTTPS_PROXY, http_proxy: process.env.http_proxy, https_proxy: process.env.https_proxy };

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cmpha-proxy-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
  srv = await startMisbehavingServer();
  proxy = await startRecordingProxy();
  tlsSrv = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (req, res) => {
    req.resume();
    res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"tls": true}');
  });
  await new Promise<void>((resolve) => tlsSrv.listen(0, '127.0.0.1', resolve));
  tlsPort = (tlsSrv.address() as AddressInfo).port;
});
afterAll(async () => {
  Object.assign(process.env, saved);
  for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
  await srv.close();
  await proxy.close();
  await new Promise<void>((resolve) => { tlsSrv.close(() => resolve()); tlsSrv.closeAllConnections(); });
  rmSync(dir, { recursive: true, force: true });
});
afterEach(() => { proxy.seen.length = 0; });

function configured(noProxy: string[] = []): OutgoingProxy {
  const p = createOutgoingProxy(proxy.url.replace('http://', 'http://cmpha:pr0xy-s3cret@'), noProxy);
  if (typeof p === 'string') throw new Error(p);
  return p;
}

function client(p?: OutgoingProxy, cacert?: string): HttpClient {
  return new HttpClient({ timeoutMs: 5000, retries: 0, insecure: false, logger: silentLogger, ...(p ? { proxy: p } : {}), ...(cacert ? { cacert } : {}) });
}

const basicAuth = `Basic ${Buffer.from('cmpha:pr0xy-s3cret').toString('base64')}`;

describe('without [cloud] proxy', () => {
  it('ignores HTTP_PROXY and HTTPS_PROXY in the environment for the cloud, BMCs and webhooks', async () => {
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) process.env[k] = proxy.url;
    try {
      const c = client();
      expect((await c.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/`, idempotent: true })).data).toEqual({ ok: true });
      c.close();
      const bmc = new RedfishHttp({ name: 'cmp-1', scheme: 'http', address: '127.0.0.1', port: srv.port, insecure: false });
      expect((await bmc.request('GET', '/redfish/v1/Systems', { timeoutMs: 5000, signal: new AbortController().signal })).status).toBe(200);
      const svc = createNotificationService({ notifiers: [notifier({ name: 'hook', type: 'webhook', options: { url: `${srv.url}/hook` } })], escalation: escalation(), logger: captureLogger().logger });
      expect(await svc.notify(event())).toMatchObject([{ ok: true }]);
      await svc.stop();
    } finally {
      for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) delete process.env[k];
    }
    expect(proxy.seen).toEqual([]);
  });
});

describe('with [cloud] proxy', () => {
  it('sends plain-HTTP cloud calls through it as absolute URLs, with the proxy credentials', async () => {
    const c = client(configured());
    const res = await c.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/os-services`, idempotent: true });
    c.close();
    expect(res.data).toEqual({ ok: true });
    expect(proxy.seen).toEqual([{ line: `GET ${srv.url}/v2.1/os-services`, auth: basicAuth }]);
    // The proxy credentials went to the proxy only.
    expect(srv.requests.at(-1)!.headers['proxy-authorization']).toBeUndefined();
  });

  it('tunnels HTTPS through CONNECT and still verifies the server certificate against cacert', async () => {
    const c = client(configured(), path.join(dir, 'cert.pem'));
    const res = await c.send({ service: 'keystone', method: 'GET', url: `https://127.0.0.1:${tlsPort}/v3`, idempotent: true });
    c.close();
    expect(res.data).toEqual({ tls: true });
    expect(proxy.seen).toEqual([{ line: `CONNECT 127.0.0.1:${tlsPort}`, auth: basicAuth }]);

    const untrusting = client(configured());
    await expect(untrusting.send({ service: 'keystone', method: 'GET', url: `https://127.0.0.1:${tlsPort}/v3`, idempotent: true }))
      .rejects.toMatchObject({ code: 'tls_error' });
    untrusting.close();
  });

  it('uses it for Redfish BMCs and webhooks too', async () => {
    const p = configured();
    const bmc = new RedfishHttp({ name: 'cmp-1', scheme: 'http', address: '127.0.0.1', port: srv.port, insecure: false, proxy: p });
    expect((await bmc.request('GET', '/redfish/v1/Systems', { timeoutMs: 5000, signal: new AbortController().signal })).status).toBe(200);
    const svc = createNotificationService({ notifiers: [notifier({ name: 'hook', type: 'webhook', options: { url: `${srv.url}/hook` }, proxy: p })], escalation: escalation(), logger: captureLogger().logger });
    expect(await svc.notify(event())).toMatchObject([{ ok: true }]);
    await svc.stop();
    expect(proxy.seen.map((s) => s.line)).toEqual([`GET ${srv.url}/redfish/v1/Systems`, `POST ${srv.url}/hook`]);
  });

  it('goes direct to destinations no_proxy names', async () => {
    const c = client(configured(['.cloud.example', '127.0.0.0/8']));
    expect((await c.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/`, idempotent: true })).data).toEqual({ ok: true });
    c.close();
    const bmc = new RedfishHttp({ name: 'cmp-1', scheme: 'http', address: '127.0.0.1', port: srv.port, insecure: false, proxy: configured(['127.0.0.1']) });
    expect((await bmc.request('GET', '/redfish/v1', { timeoutMs: 5000, signal: new AbortController().signal })).status).toBe(200);
    expect(proxy.seen).toEqual([]);
  });

  it('a proxy that is down fails the call with an error naming the proxy setting', async () => {
    const dead = createOutgoingProxy('http://127.0.0.1:9', []) as OutgoingProxy;
    const c = client(dead);
    await expect(c.send({ service: 'nova', method: 'GET', url: `${srv.url}/v2.1/`, idempotent: true }))
      .rejects.toMatchObject({ code: 'proxy_error', message: expect.stringMatching(/proxy 127\.0\.0\.1:9 failed: .*ECONNREFUSED.*\(\[cloud\] proxy\)/) });
    c.close();
    const tunnel = client(dead, path.join(dir, 'cert.pem'));
    await expect(tunnel.send({ service: 'nova', method: 'GET', url: `https://127.0.0.1:${tlsPort}/v2.1/`, idempotent: true }))
      .rejects.toMatchObject({ code: 'proxy_error', message: expect.stringContaining('([cloud] proxy)') });
    tunnel.close();
  });
});

describe('no_proxy entries', () => {
  it('match names, domain suffixes, addresses and CIDR ranges as curl does', () => {
    const m = parseNoProxy(['nova.cloud.example', '.mgmt.example', 'example.org', '10.0.0.0/8', 'fd00::/8', '192.0.2.7']);
    if (typeof m === 'string') throw new Error(m);
    expect(['nova.cloud.example', 'bmc1.mgmt.example', 'a.b.example.org', 'example.org', '10.4.5.6', 'fd00::1', '[fd00::2]', '192.0.2.7'].filter((h) => !m(h))).toEqual([]);
    expect(['keystone.cloud.example', 'mgmt.example.com', 'notexample.org', '11.0.0.1', '192.0.2.8', 'fe80::1'].filter((h) => m(h))).toEqual([]);
    const all = parseNoProxy(['*']);
    expect(typeof all !== 'string' && all('anything')).toBe(true);
  });

  it('a bad entry is named', () => {
    expect(parseNoProxy(['10.0.0.0/33'])).toBe('"10.0.0.0/33" is not an IP range (use e.g. 10.0.0.0/8)');
    expect(parseNoProxy(['bad host!'])).toBe('"bad host!" is not a host name, domain, IP address or CIDR range');
  });
});

describe('[cloud] proxy in cmpha.conf', () => {
  const CLOUD = '[cloud]\nauth_url = http://127.0.0.1:5000/v3\nusername = admin\npassword = pw\nuser_domain_name = Default\nproject_name = admin\n';
  const write = (text: string) => {
    const p = path.join(dir, `c${Math.random().toString(36).slice(2)}.conf`);
    writeFileSync(p, text);
    return p;
  };
  const problems = async (text: string) => {
    try {
      await loadConfig({ path: write(text), env: {}, cwd: dir });
    } catch (err) {
      if (err instanceof ConfigError) return err.lines().join('\n');
      throw err;
    }
    throw new Error('expected the config to be refused');
  };

  it('reaches every HTTP client, and prints with the proxy password masked', async () => {
    const cfg = await loadConfig({ path: write(`${CLOUD}proxy = http://cmpha:pr0xy-s3cret@127.0.0.1:3128\nno_proxy = 10.0.0.0/8, .mgmt.example\nmax_response_size = 8MiB\n[notifier:sms]\ntype = webhook\nurl = http://127.0.0.1:1/sms\n`), env: {}, cwd: dir });
    expect(cfg.cloud.maxResponseBytes).toBe(8 * 1024 * 1024);
    expect(cfg.cloud.proxy?.url.href).toBe('http://cmpha:pr0xy-s3cret@127.0.0.1:3128/');
    expect(cfg.fencing.proxy).toBe(cfg.cloud.proxy);
    expect(cfg.notifiers[0]!.proxy).toBe(cfg.cloud.proxy);
    expect(cfg.cloud.proxy?.noProxy('bmc7.mgmt.example')).toBe(true);
    const printed = JSON.stringify(cfg);
    expect(printed).not.toContain('pr0xy-s3cret');
    expect(printed).toContain('"proxy":{"url":"http://cmpha:***@127.0.0.1:3128","no_proxy":["10.0.0.0/8",".mgmt.example"]}');
  });

  it('refuses a bad proxy, a bad no_proxy entry, no_proxy alone and a bad size, naming the key', async () => {
    expect(await problems(`${CLOUD}proxy = https://127.0.0.1:3128\n`)).toMatch(/\[cloud\] proxy: proxy https:\/\/127\.0\.0\.1:3128 scheme https is not supported/);
    expect(await problems(`${CLOUD}proxy = http://u:hidden-pw@127.0.0.1:3128/path\n`)).not.toContain('hidden-pw');
    expect(await problems(`${CLOUD}proxy = http://127.0.0.1:3128\nno_proxy = 10.0.0.0/40\n`)).toMatch(/\[cloud\] no_proxy: no_proxy "10\.0\.0\.0\/40" is not an IP range/);
    expect(await problems(`${CLOUD}no_proxy = 10.0.0.0/8\n`)).toMatch(/\[cloud\] no_proxy: is set without proxy; cmpha never reads HTTP\(S\)_PROXY/);
    expect(await problems(`${CLOUD}max_response_size = lots\n`)).toMatch(/\[cloud\] max_response_size: "lots" is not a size/);
  });
});

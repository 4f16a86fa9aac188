import { BlockList, isIP } from 'node:net';
import { maskUrl } from './mask-url.js';

/**
 * The one proxy rule for every outgoing HTTP(S) call (Keystone, Nova, Placement, Redfish BMCs, webhooks):
 * a proxy is used only when the configuration names one (`[cloud] proxy`), never because HTTP_PROXY or
 * HTTPS_PROXY happen to be set in the environment, and never for a destination `no_proxy` matches.
 * An environment variable silently redirecting fencing or paging traffic is the surprise this avoids.
 */
export interface OutgoingProxy {
  /** `http://[user:password@]host:port`; CONNECT is used for https destinations. */
  readonly url: URL;
  readonly noProxy: NoProxyMatcher;
  /** What `config validate` prints: the password masked. */
  toJSON(): { url: string; no_proxy: readonly string[] };
}

export interface NoProxyMatcher {
  (hostname: string): boolean;
  /** The entries as configured, for `config validate` and logs. */
  readonly entries: readonly string[];
}

/**
 * `no_proxy` entries as curl and OpenStack clients read them: `*` (everything), a host name (`nova.example`)
 * or domain suffix (`.example` or `example` also matches `a.example`), an IP address, or an IP range in CIDR
 * form (`10.0.0.0/8`, `fd00::/8`). Ports are ignored. Returns an error text naming the bad entry.
 */
export function parseNoProxy(entries: readonly string[]): NoProxyMatcher | string {
  const names: string[] = [];
  const ranges = new BlockList();
  let all = false;
  for (const raw of entries) {
    const e = raw.trim().toLowerCase();
    if (e === '') continue;
    if (e === '*') { all = true; continue; }
    const cidr = /^([0-9a-f:.]+)\/(\d{1,3})$/.exec(e);
    if (cidr) {
      const family = isIP(cidr[1]!);
      const bits = Number(cidr[2]);
      if (family === 0 || bits > (family === 4 ? 32 : 128)) return `"${raw}" is not an IP range (use e.g. 10.0.0.0/8)`;
      ranges.addSubnet(cidr[1]!, bits, family === 4 ? 'ipv4' : 'ipv6');
      continue;
    }
    const bare = e.replace(/^\[(.*)\]$/, '$1');
    const family = isIP(bare);
    if (family !== 0) { ranges.addAddress(bare, family === 4 ? 'ipv4' : 'ipv6'); continue; }
    const host = e.replace(/:\d+$/, '').replace(/^\*?\./, '');
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) return `"${raw}" is not a host name, domain, IP address or CIDR range`;
    names.push(host);
  }
  const matcher = ((hostname: string): boolean => {
    if (all) return true;
    const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
    const family = isIP(h);
    if (family !== 0) return ranges.check(h, family === 4 ? 'ipv4' : 'ipv6');
    return names.some((n) => h === n || h.endsWith(`.${n}`));
  }) as NoProxyMatcher;
  Object.defineProperty(matcher, 'entries', { value: Object.freeze(entries.map((e) => e.trim()).filter((e) => e !== '')) });
  return matcher;
}

/** Checks a proxy URL; returns the error text for a bad one. Only `http://` proxies (CONNECT for TLS). */
export function parseProxyUrl(text: string): URL | string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a URL (use e.g. http://proxy.example:3128)';
  }
  if (url.protocol !== 'http:') return `scheme ${url.protocol.replace(/:$/, '')} is not supported (use http://; https destinations go through CONNECT)`;
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') return 'must be scheme, host and port only';
  return url;
}

export function createOutgoingProxy(proxyUrl: string, noProxy: readonly string[]): OutgoingProxy | string {
  const url = parseProxyUrl(proxyUrl);
  if (typeof url === 'string') return `proxy ${maskUrl(proxyUrl)} ${url}`;
  const matcher = parseNoProxy(noProxy);
  if (typeof matcher === 'string') return `no_proxy ${matcher}`;
  return { url, noProxy: matcher, toJSON: () => ({ url: maskUrl(url.href.replace(/\/$/, '')), no_proxy: matcher.entries }) };
}

/** The proxy to use for `target`, or undefined for a direct connection. */
export function proxyFor(proxy: OutgoingProxy | undefined, target: URL): URL | undefined {
  if (proxy === undefined) return undefined;
  return proxy.noProxy(target.hostname) ? undefined : proxy.url;
}

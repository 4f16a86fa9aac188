// Every URL cmpha prints or logs (Redis, webhooks, proxies, Keystone) goes through maskUrl: a password in its
// user-info part, or a query parameter named like a secret, becomes ***. One function, so a new place that
// shows a URL cannot mask less than the others.

const SECRET_PARAMS = /^(password|passwd|pass|pwd|secret|token|auth_token|access_token|api_key|apikey|key|sig|signature)$/i;

/** The URL as it may be shown. A string that is not a URL still has any `//user:password@` part masked. */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return maskUrlsIn(url);
  }
  if (u.protocol === 'file:' || (!u.password && ![...u.searchParams.keys()].some((k) => SECRET_PARAMS.test(k)))) return url;
  if (u.password) u.password = '***';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(k)) u.searchParams.set(k, '***');
  return u.toString().replace(/%2A%2A%2A/g, '***');
}

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/@:]*):([^\s/@]*)@/gi;
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi;

/** Masks every URL inside a free text (a log message, an error from a library). */
export function maskUrlsIn(text: string): string {
  if (!text.includes('://')) return text;
  return text.replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:***@`).replace(URL_IN_TEXT, (u) => (u.includes('?') ? maskUrl(u) : u));
}

/** The same for every string inside a value about to be printed (e.g. the effective config). */
export function maskUrlsDeep<T>(value: T): T {
  if (typeof value === 'string') return maskUrlsIn(value) as T;
  if (Array.isArray(value)) return value.map((v) => maskUrlsDeep(v)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskUrlsDeep(v)])) as T;
  }
  return value;
}

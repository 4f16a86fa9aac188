// Every URL cmpha prints or logs (Redis, webhooks, proxies, Keystone) goes through maskUrl: a password in its
// user-info part, or a query parameter named like a secret, becomes ***. One function, so a new place that
// shows a URL cannot mask less than the others.

const SECRET_PARAMS = /^(password|passwd|pass|pwd|secret|token|auth_token|access_token|api_key|apikey|key|sig|signature)$/i;

/**
 * The URL as it may be shown. Text that does not parse as a URL may still carry credentials
 * (`http://:pw@host :3128`, a password with an unencoded `/`), so there everything between `://` and the last
 * `@` is masked, user name included: better an unreadable user than a readable password.
 */
export function maskUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return url.includes('://') ? maskAuthority(url) : maskUrlsIn(url);
  }
  if (u.protocol === 'file:') return url;
  // `http://u:12/34@host` parses as host "u", port 12 and path "/34@host": the password's tail is in the path.
  if ((u.pathname + u.search + u.hash).includes('@')) return maskAuthority(url);
  if (!u.password && ![...u.searchParams.keys()].some((k) => SECRET_PARAMS.test(k))) return url;
  if (u.password) u.password = '***';
  for (const k of [...u.searchParams.keys()]) if (SECRET_PARAMS.test(k)) u.searchParams.set(k, '***');
  const shown = u.toString().replace(/%2A%2A%2A/g, '***');
  // URL adds a "/" to a bare authority; show it as it was written.
  return !url.endsWith('/') && shown.endsWith('/') && u.pathname === '/' && !u.search ? shown.slice(0, -1) : shown;
}

function maskAuthority(text: string): string {
  const scheme = text.indexOf('://');
  const at = text.lastIndexOf('@');
  return scheme >= 0 && at > scheme ? `${text.slice(0, scheme + 3)}***${text.slice(at)}` : text;
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

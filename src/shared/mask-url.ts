/**
 * A URL fit for logs, error messages and `config validate`: its password replaced by `***`. The one masking
 * rule for every URL cmpha prints (Redis, proxy). Text that does not parse as a URL may still carry
 * credentials (`http://:pw@host :3128`, a password with an unencoded `/`), so there everything between
 * `://` and the last `@` is masked, user name included: better an unreadable user than a readable password.
 */
export function maskUrlPassword(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return maskAuthority(text);
  }
  // `http://u:12/34@host` parses as host "u", port 12 and path "/34@host": the password's tail is in the path.
  if ((u.pathname + u.search + u.hash).includes('@')) return maskAuthority(text);
  if (u.password !== '') u.password = '***';
  return u.toString().replace(/\/$/, '');
}

function maskAuthority(text: string): string {
  const scheme = text.indexOf('://');
  const at = text.lastIndexOf('@');
  return scheme >= 0 && at > scheme ? `${text.slice(0, scheme + 3)}***${text.slice(at)}` : text;
}

import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { Typed } from './declare.js';
import { createOutgoingProxy, type OutgoingProxy } from '../shared/outgoing-proxy.js';
import { didYouMean } from './suggest.js';
import type { legacySection} from './schema.js';
import { cloudSection, normaliseInterface } from './schema.js';
import type { CloudAuth, CloudConfig } from './types.js';

type CloudTyped = Typed<typeof cloudSection.decls>;
type LegacyTyped = Typed<typeof legacySection.decls>;

/** What the cloud resolution needs from the loader. */
export interface CloudContext {
  issue(section: string | undefined, key: string | undefined, message: string, file?: string, line?: number): void;
  /** The [cloud] section as written (INI keys → values). */
  raw(section: string): Record<string, string | boolean>;
}

/** Flat cloud settings under their [cloud] key names, merged from lowest to highest precedence. */
type CloudFields = Record<string, string | boolean | number>;

const ENV_MAP: Record<string, string> = {
  OS_AUTH_URL: 'auth_url', OS_AUTH_TYPE: 'auth_type', OS_USERNAME: 'username', OS_USER_ID: 'user_id', OS_PASSWORD: 'password',
  OS_USER_DOMAIN_NAME: 'user_domain_name', OS_USER_DOMAIN_ID: 'user_domain_id', OS_PROJECT_NAME: 'project_name',
  OS_PROJECT_ID: 'project_id', OS_PROJECT_DOMAIN_NAME: 'project_domain_name', OS_PROJECT_DOMAIN_ID: 'project_domain_id',
  OS_APPLICATION_CREDENTIAL_ID: 'application_credential_id', OS_APPLICATION_CREDENTIAL_NAME: 'application_credential_name',
  OS_APPLICATION_CREDENTIAL_SECRET: 'application_credential_secret', OS_REGION_NAME: 'region_name', OS_INTERFACE: 'interface',
  OS_CACERT: 'cacert', OS_INSECURE: 'insecure',
};

/**
 * Precedence, lowest first: clouds.yaml (cloud named by [cloud] cloud or OS_CLOUD, with secure.yaml merged over
 * it) < OS_* environment < the legacy [ser] section < [cloud]. The config file wins over the environment as a
 * command line would.
 */
export function resolveCloud(ctx: CloudContext, cloudRaw: CloudTyped, legacy: LegacyTyped, env: Readonly<Record<string, string | undefined>>, cwd: string): CloudConfig | undefined {
  const fields: CloudFields = {};
  const sources: string[] = [];
  const cloudName = cloudRaw.cloud ?? env.OS_CLOUD;
  if (cloudName !== undefined) {
    const fromYaml = readCloudsYaml(ctx, cloudName, cloudRaw.cloudsFile ?? env.OS_CLIENT_CONFIG_FILE, env, cwd);
    if (fromYaml) { Object.assign(fields, fromYaml.fields); sources.push(`clouds.yaml ${fromYaml.file}${fromYaml.secure ? ` + ${fromYaml.secure}` : ''} cloud ${cloudName}`); }
  }
  const fromEnv: CloudFields = {};
  for (const [name, key] of Object.entries(ENV_MAP)) {
    const v = env[name];
    if (v !== undefined && v !== '') fromEnv[key] = v;
  }
  if (fromEnv.project_name === undefined && env.OS_TENANT_NAME) fromEnv.project_name = env.OS_TENANT_NAME;
  if (Object.keys(fromEnv).length > 0) { Object.assign(fields, fromEnv); sources.push('OS_* environment'); }

  // The original tool: [ser] OS_* keys; OS_DEFAULT_DOMAIN names the domain of both user and project.
  const fromLegacy: CloudFields = {};
  if (legacy.OS_AUTH_URL) fromLegacy.auth_url = legacy.OS_AUTH_URL;
  if (legacy.OS_USERNAME) fromLegacy.username = legacy.OS_USERNAME;
  if (legacy.OS_PASSWORD) fromLegacy.password = legacy.OS_PASSWORD;
  const project = legacy.OS_PROJECT_NAME ?? legacy.OS_TENANT_NAME;
  if (project) fromLegacy.project_name = project;
  if (legacy.OS_DEFAULT_DOMAIN) {
    // `default` is the id of Keystone's built-in domain; anything else is taken as a name.
    const asId = legacy.OS_DEFAULT_DOMAIN === 'default';
    fromLegacy[asId ? 'user_domain_id' : 'user_domain_name'] = legacy.OS_DEFAULT_DOMAIN;
    fromLegacy[asId ? 'project_domain_id' : 'project_domain_name'] = legacy.OS_DEFAULT_DOMAIN;
  }
  if (Object.keys(fromLegacy).length > 0) { Object.assign(fields, fromLegacy); sources.push('[ser]'); }

  const explicit: CloudFields = {};
  for (const [key, value] of Object.entries(ctx.raw('cloud'))) {
    if (key !== 'cloud' && key !== 'clouds_file') explicit[key] = value;
  }
  // A secret or a setting given in [cloud] in any of its spellings replaces the inherited one.
  const replaces: Record<string, string[]> = {
    password_file: ['password'], password: ['password_file'],
    application_credential_secret_file: ['application_credential_secret'], application_credential_secret: ['application_credential_secret_file'],
    cafile: ['cacert'], valid_interfaces: ['interface'],
  };
  for (const key of Object.keys(explicit)) for (const r of replaces[key] ?? []) if (explicit[r] === undefined) delete fields[r];
  if (Object.keys(explicit).length > 0) { Object.assign(fields, explicit); sources.push('[cloud]'); }

  // Re-validate the merged view so values from env/clouds.yaml get the same checks as the file's.
  const merged = cloudSection.schema.safeParse(fields);
  if (!merged.success) {
    for (const i of merged.error.issues) ctx.issue('cloud', i.path.map(String).join('.') || undefined, `${i.message} (from ${sources.join(' + ') || 'defaults'})`);
    return undefined;
  }
  const c = merged.data;
  const where = sources.length > 0 ? sources.join(' + ') : 'nothing';
  let ok = true;
  const need = (cond: boolean, key: string, msg: string) => {
    if (!cond) { ctx.issue('cloud', key, `${msg} (looked in ${where}; set it in [cloud], the OS_* environment or a clouds.yaml cloud)`); ok = false; }
  };
  need(c.authUrl !== undefined, 'auth_url', 'is required');
  if (c.authUrl !== undefined && !/^https?:\/\/[^\s]+$/.test(c.authUrl)) {
    ctx.issue('cloud', 'auth_url', `"${c.authUrl}" is not an http(s) URL`);
    ok = false;
  }
  let auth: CloudAuth | undefined;
  if (c.authType === 'password' || c.authType === 'v3password') {
    need(c.password !== undefined, 'password', 'is required for password auth');
    need(c.username !== undefined || c.userId !== undefined, 'username', 'username or user_id is required for password auth');
    need(c.projectName !== undefined || c.projectId !== undefined, 'project_name', 'project_name or project_id is required (cmpha needs a project-scoped admin token)');
    if (c.username !== undefined && c.userDomainName === undefined && c.userDomainId === undefined) {
      need(false, 'user_domain_name', 'user_domain_name or user_domain_id is required with username');
    }
    if (c.password) {
      auth = {
        type: 'password', password: c.password,
        ...opt('username', c.username), ...opt('userId', c.userId), ...opt('userDomainName', c.userDomainName),
        ...opt('userDomainId', c.userDomainId), ...opt('projectName', c.projectName), ...opt('projectId', c.projectId),
        ...opt('projectDomainName', c.projectDomainName ?? (c.projectDomainId === undefined ? c.userDomainName : undefined)),
        ...opt('projectDomainId', c.projectDomainId ?? (c.projectDomainName === undefined && c.userDomainName === undefined ? c.userDomainId : undefined)),
      };
    }
  } else {
    const secret = c.applicationCredentialSecret;
    need(secret !== undefined, 'application_credential_secret', 'is required for application credential auth');
    need(c.applicationCredentialId !== undefined || (c.applicationCredentialName !== undefined && (c.username !== undefined || c.userId !== undefined)),
      'application_credential_id', 'application_credential_id, or application_credential_name with username/user_id, is required');
    if (secret) {
      auth = {
        type: 'application_credential', secret,
        ...opt('id', c.applicationCredentialId), ...opt('name', c.applicationCredentialName), ...opt('username', c.username),
        ...opt('userId', c.userId), ...opt('userDomainName', c.userDomainName), ...opt('userDomainId', c.userDomainId),
      };
    }
  }
  const cacert = c.cacert ?? c.cafile;
  if (cacert !== undefined && !existsSync(cacert)) { ctx.issue('cloud', c.cacert !== undefined ? 'cacert' : 'cafile', `CA file ${cacert} does not exist`); ok = false; }
  let proxy: OutgoingProxy | undefined;
  if (c.proxy !== undefined) {
    const p = createOutgoingProxy(c.proxy, c.noProxy);
    if (typeof p === 'string') { ctx.issue('cloud', p.startsWith('no_proxy') ? 'no_proxy' : 'proxy', p); ok = false; } else proxy = p;
  }
  if (!ok || !auth) return undefined;
  const firstValid = c.validInterfaces?.[0];
  return {
    type: c.type,
    authUrl: c.authUrl!.replace(/\/+$/, ''),
    auth,
    ...opt('regionName', c.regionName),
    interface: firstValid !== undefined ? normaliseInterface(firstValid) : c.interface,
    ...opt('cacert', cacert),
    insecure: c.insecure,
    timeoutMs: c.timeoutMs,
    retries: c.retries,
    maxResponseBytes: c.maxResponseBytes,
    ...opt('proxy', proxy),
    source: where,
  };
}

function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

const CLOUDS_AUTH_KEYS: Record<string, string> = {
  auth_url: 'auth_url', username: 'username', user_id: 'user_id', password: 'password', user_domain_name: 'user_domain_name',
  user_domain_id: 'user_domain_id', project_name: 'project_name', project_id: 'project_id', tenant_name: 'project_name',
  project_domain_name: 'project_domain_name', project_domain_id: 'project_domain_id',
  application_credential_id: 'application_credential_id', application_credential_name: 'application_credential_name',
  application_credential_secret: 'application_credential_secret',
};

/** openstacksdk's search directories for clouds.yaml and secure.yaml. */
function searchDirs(env: Readonly<Record<string, string | undefined>>, cwd: string): string[] {
  const home = env.HOME ?? homedir();
  return [cwd, path.join(home, '.config/openstack'), '/etc/openstack'];
}

type YamlDoc = { file: string; clouds: Record<string, unknown>; lineOf: (path: readonly string[]) => number | undefined };

function readYaml(ctx: CloudContext, file: string): YamlDoc | undefined {
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  let value: unknown;
  try {
    doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter });
    if (doc.errors.length > 0) throw doc.errors[0];
    value = doc.toJS();
  } catch (err) {
    const e = err as { linePos?: { line: number }[]; code?: string };
    const line = e.linePos?.[0]?.line;
    ctx.issue(undefined, undefined, `malformed YAML${line !== undefined ? ` at line ${line}` : ''}: ${e.code ?? 'parse error'}`, file);
    return undefined;
  }
  const clouds = (value as { clouds?: Record<string, unknown> } | null)?.clouds;
  if (clouds === undefined || clouds === null || typeof clouds !== 'object') {
    ctx.issue(undefined, 'clouds', 'has no "clouds:" mapping', file);
    return undefined;
  }
  // The line of a key, so a problem in clouds.yaml is placed as precisely as one in cmpha.conf.
  const lineOf = (p: readonly string[]): number | undefined => {
    const node = doc.getIn(p, true);
    const start = isNode(node) ? node.range?.[0] : undefined;
    return start === undefined ? undefined : lineCounter.linePos(start).line;
  };
  return { file, clouds, lineOf };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** secure.yaml's values win over clouds.yaml's, mapping by mapping, as openstacksdk merges them. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isMapping(v) && isMapping(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

function readCloudsYaml(ctx: CloudContext, name: string, explicit: string | undefined, env: Readonly<Record<string, string | undefined>>, cwd: string): { file: string; secure?: string; fields: CloudFields } | undefined {
  const candidates = explicit !== undefined ? [explicit] : searchDirs(env, cwd).map((d) => path.join(d, 'clouds.yaml'));
  const file = candidates.find((f) => existsSync(f));
  if (file === undefined) {
    ctx.issue('cloud', 'cloud', `cloud "${name}" requested but no clouds.yaml found (looked in ${candidates.join(', ')})`);
    return undefined;
  }
  const main = readYaml(ctx, file);
  if (!main) return undefined;
  const secureCandidates = env.OS_CLIENT_SECURE_FILE
    ? [env.OS_CLIENT_SECURE_FILE]
    : [...new Set([path.join(path.dirname(file), 'secure.yaml'), ...searchDirs(env, cwd).map((d) => path.join(d, 'secure.yaml'))])];
  const secureFile = secureCandidates.find((f) => existsSync(f));
  const secure = secureFile !== undefined ? readYaml(ctx, secureFile) : undefined;
  if (secureFile !== undefined && !secure) return undefined;
  const base = main.clouds[name];
  const extra = secure?.clouds[name];
  if ((base === undefined || base === null) && (extra === undefined || extra === null)) {
    ctx.issue(`clouds.${name}`, undefined, `no such cloud (clouds here: ${Object.keys(main.clouds).join(', ') || 'none'})`, file);
    return undefined;
  }
  if ((base !== undefined && !isMapping(base)) || (extra !== undefined && !isMapping(extra))) {
    ctx.issue(`clouds.${name}`, undefined, 'must be a mapping', !isMapping(base) ? file : secureFile);
    return undefined;
  }
  const e = deepMerge((base ?? {}) as Record<string, unknown>, (extra ?? {}) as Record<string, unknown>);
  const where = secureFile !== undefined && extra !== undefined ? secureFile : file;
  const fields: CloudFields = {};
  const auth = e.auth ?? {};
  if (!isMapping(auth)) {
    ctx.issue(`clouds.${name}`, 'auth', 'must be a mapping', where);
    return undefined;
  }
  const place = (k: string): [string, number | undefined] => {
    const p = ['clouds', name, 'auth', k];
    const inSecure = secure?.lineOf(p);
    return inSecure !== undefined ? [secureFile!, inSecure] : [file, main.lineOf(p)];
  };
  for (const [k, v] of Object.entries(auth)) {
    const key = CLOUDS_AUTH_KEYS[k];
    if (key === undefined) { ctx.issue(`clouds.${name}.auth`, k, `unknown key${didYouMean(k, Object.keys(CLOUDS_AUTH_KEYS))}`, ...place(k)); continue; }
    if (typeof v !== 'string' && typeof v !== 'number') { ctx.issue(`clouds.${name}.auth`, k, 'must be a string', ...place(k)); continue; }
    fields[key] = String(v);
  }
  const top: Record<string, string> = { auth_type: 'auth_type', region_name: 'region_name', interface: 'interface', cacert: 'cacert' };
  for (const [k, key] of Object.entries(top)) if (e[k] !== undefined) fields[key] = String(e[k]);
  if (e.verify !== undefined) fields.insecure = e.verify === false || e.verify === 'false' ? 'true' : 'false';
  if (e.insecure !== undefined) fields.insecure = String(e.insecure);
  return { file, ...(extra !== undefined && secureFile !== undefined ? { secure: secureFile } : {}), fields };
}

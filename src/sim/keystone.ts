import { randomBytes } from 'node:crypto';
import { keystoneTime } from './clock.js';
import { SimHttpError, UNAUTHORIZED_MESSAGE, keystoneError } from './http-error.js';
import type { SimRequest, SimResponse } from './http-types.js';
import type { AppCredential, SimProject, SimUser } from './types.js';
import type { World } from './world.js';

export interface TokenInfo {
  readonly token: string;
  readonly userId: string;
  readonly projectId: string;
  readonly roles: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly methods: readonly string[];
  readonly appCredentialId: string | null;
}

export interface CatalogUrls {
  /** http://127.0.0.1:PORT */
  readonly base: string;
}

/** Keystone v3: tokens (password and application_credential), the catalog, and users with e-mail addresses. */
export class Keystone {
  private readonly tokens = new Map<string, TokenInfo>();
  private issued = 0;

  constructor(
    private readonly world: World,
    private readonly urls: CatalogUrls,
  ) {}

  /** Revokes every token (what a service user's password change does). */
  revokeAll(): number {
    const n = this.tokens.size;
    this.tokens.clear();
    return n;
  }

  /** The token's owner, or a 401 exactly as keystonemiddleware answers. */
  authenticate(req: SimRequest): TokenInfo {
    const token = req.headers['x-auth-token'];
    const info = typeof token === 'string' ? this.tokens.get(token) : undefined;
    if (!info || info.expiresAt <= this.world.now()) {
      throw new SimHttpError(401, { error: { code: 401, title: 'Unauthorized', message: UNAUTHORIZED_MESSAGE } }, {
        'WWW-Authenticate': `Keystone uri="${this.urls.base}/identity"`,
      });
    }
    return info;
  }

  catalog(projectId: string): unknown[] {
    const b = this.urls.base;
    const entry = (type: string, name: string, url: string, id: string) => ({
      id, type, name,
      endpoints: ['public', 'internal', 'admin'].map((iface, i) => ({
        id: `${id.slice(0, 28)}${i}${iface.slice(0, 3)}`, interface: iface, region: 'RegionOne', region_id: 'RegionOne', url,
      })),
    });
    // A Cloudpods region's catalog: its Keystone-v3-compatible identity service and the region's compute_v2.
    if (this.world.settings.cloud === 'cloudpods') {
      return [
        entry('identity', 'keystone', `${b}/identity`, 'a1b2c3d4e5f60718293a4b5c6d7e8f90'),
        entry('compute_v2', 'region2', `${b}/cloudpods`, 'f1b2c3d4e5f60718293a4b5c6d7e8f90'),
      ];
    }
    return [
      entry('identity', 'keystone', `${b}/identity`, 'a1b2c3d4e5f60718293a4b5c6d7e8f90'),
      entry('compute', 'nova', `${b}/compute/v2.1`, 'b1b2c3d4e5f60718293a4b5c6d7e8f90'),
      entry('network', 'neutron', `${b}/network`, 'c1b2c3d4e5f60718293a4b5c6d7e8f90'),
      entry('placement', 'placement', `${b}/placement`, 'd1b2c3d4e5f60718293a4b5c6d7e8f90'),
      // Registered as …/v3/%(project_id)s; Keystone fills in the token's project.
      entry('image', 'glance', `${b}/image`, 'f1b2c3d4e5f60718293a4b5c6d7e8f90'),
      ...(this.world.settings.cinder ? [entry('volumev3', 'cinderv3', `${b}/volume/v3/${projectId}`, 'e1b2c3d4e5f60718293a4b5c6d7e8f90')] : []),
    ];
  }

  async handle(req: SimRequest): Promise<SimResponse | null> {
    const p = req.path.replace(/\/+$/, '');
    if (p === '/identity' && req.method === 'GET') return { status: 300, body: { versions: { values: [this.versionDoc()] } } };
    if (p === '/identity/v3' && req.method === 'GET') return { status: 200, body: { version: this.versionDoc() } };
    if (p === '/identity/v3/auth/tokens') {
      if (req.method === 'POST') return this.issue(req);
      if (req.method === 'GET' || req.method === 'HEAD') return this.validate(req);
      if (req.method === 'DELETE') {
        this.authenticate(req);
        const subject = req.headers['x-subject-token'];
        if (typeof subject !== 'string' || !this.tokens.delete(subject)) throw keystoneError(404, 'Could not find token.');
        return { status: 204 };
      }
    }
    let m = /^\/identity\/v3\/users\/([^/]+)$/.exec(p);
    if (m && req.method === 'GET') {
      this.authenticate(req);
      const user = this.world.users.find((u) => u.id === m![1]);
      if (!user) throw keystoneError(404, `Could not find user: ${m[1]}.`);
      return { status: 200, body: { user: this.userBody(user) } };
    }
    if (p === '/identity/v3/users' && req.method === 'GET') {
      this.authenticate(req);
      const name = req.url.searchParams.get('name');
      const users = this.world.users.filter((u) => !name || u.name === name);
      return { status: 200, body: { users: users.map((u) => this.userBody(u)), links: { self: `${this.urls.base}${req.path}`, previous: null, next: null } } };
    }
    m = /^\/identity\/v3\/projects\/([^/]+)$/.exec(p);
    if (m && req.method === 'GET') {
      this.authenticate(req);
      const project = this.world.projects.find((x) => x.id === m![1]);
      if (!project) throw keystoneError(404, `Could not find project: ${m[1]}.`);
      return { status: 200, body: { project: this.projectBody(project) } };
    }
    if (p.startsWith('/identity')) throw keystoneError(404, 'The resource could not be found.');
    return null;
  }

  private versionDoc() {
    return {
      id: 'v3.14', status: 'stable', updated: '2020-04-07T00:00:00Z',
      links: [{ rel: 'self', href: `${this.urls.base}/identity/v3/` }],
      'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
    };
  }

  private userBody(u: SimUser) {
    return {
      id: u.id, name: u.name, email: u.email, domain_id: u.domainId, enabled: true, password_expires_at: null, options: {},
      default_project_id: u.defaultProjectId ?? undefined,
      links: { self: `${this.urls.base}/identity/v3/users/${u.id}` },
    };
  }

  private projectBody(p: SimProject) {
    return {
      id: p.id, name: p.name, domain_id: p.domainId, description: '', enabled: true, is_domain: false, parent_id: p.domainId,
      tags: [], options: {}, links: { self: `${this.urls.base}/identity/v3/projects/${p.id}` },
    };
  }

  private domainOf(ref: unknown): string | undefined {
    if (typeof ref !== 'object' || ref === null) return undefined;
    const r = ref as { id?: unknown; name?: unknown };
    if (typeof r.id === 'string') return this.world.domains.find((d) => d.id === r.id)?.id ?? '\0';
    if (typeof r.name === 'string') return this.world.domains.find((d) => d.name === r.name)?.id ?? '\0';
    return undefined;
  }

  private findUser(ref: unknown): SimUser | undefined {
    if (typeof ref !== 'object' || ref === null) return undefined;
    const r = ref as { id?: unknown; name?: unknown; domain?: unknown };
    if (typeof r.id === 'string') return this.world.users.find((u) => u.id === r.id);
    if (typeof r.name === 'string') {
      const domainId = this.domainOf(r.domain);
      if (domainId === undefined) throw keystoneError(400, 'Expecting to find domain in user. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.');
      return this.world.users.find((u) => u.name === r.name && u.domainId === domainId);
    }
    return undefined;
  }

  private issue(req: SimRequest): SimResponse {
    const unauthorized = () => keystoneError(401, UNAUTHORIZED_MESSAGE);
    const body = req.body as { auth?: { identity?: Record<string, unknown>; scope?: unknown } } | undefined;
    const identity = body?.auth?.identity;
    const methods = identity?.methods;
    if (!identity || !Array.isArray(methods) || methods.length === 0) {
      throw keystoneError(400, "Invalid input for field 'identity': 'methods' is a required property");
    }
    let user: SimUser | undefined;
    let appCred: AppCredential | undefined;
    if (methods.includes('application_credential')) {
      const ac = identity.application_credential as { id?: unknown; name?: unknown; secret?: unknown; user?: unknown } | undefined;
      if (!ac || typeof ac.secret !== 'string') throw keystoneError(400, "Invalid input for field 'identity/application_credential': 'secret' is a required property");
      if (typeof ac.id === 'string') appCred = this.world.appCredentials.find((c) => c.id === ac.id);
      else if (typeof ac.name === 'string') {
        const owner = this.findUser(ac.user);
        appCred = owner ? this.world.appCredentials.find((c) => c.name === ac.name && c.userId === owner.id) : undefined;
      }
      if (!appCred || appCred.secret !== ac.secret) throw unauthorized();
      user = this.world.users.find((u) => u.id === appCred!.userId);
      if (!user) throw unauthorized();
      if (body?.auth?.scope !== undefined) throw keystoneError(401, 'Application credentials cannot request a scope.');
    } else if (methods.includes('password')) {
      const pw = identity.password as { user?: { password?: unknown } } | undefined;
      user = this.findUser(pw?.user);
      if (!user || typeof pw?.user?.password !== 'string' || pw.user.password !== user.password) throw unauthorized();
    } else if (methods.includes('token')) {
      const t = (identity.token as { id?: unknown } | undefined)?.id;
      const info = typeof t === 'string' ? this.tokens.get(t) : undefined;
      if (!info || info.expiresAt <= this.world.now()) throw unauthorized();
      user = this.world.users.find((u) => u.id === info.userId);
      if (!user) throw unauthorized();
    } else {
      throw keystoneError(401, `Attempted to authenticate with an unsupported method.`);
    }

    let project: SimProject | undefined;
    if (appCred) {
      project = this.world.projects.find((p) => p.id === appCred!.projectId);
    } else {
      const scope = body?.auth?.scope as { project?: { id?: unknown; name?: unknown; domain?: unknown } } | undefined;
      if (scope?.project) {
        const ref = scope.project;
        if (typeof ref.id === 'string') project = this.world.projects.find((p) => p.id === ref.id);
        else if (typeof ref.name === 'string') {
          const domainId = this.domainOf(ref.domain);
          project = this.world.projects.find((p) => p.name === ref.name && p.domainId === domainId);
        }
        if (!project) throw unauthorized();
      } else if (user.defaultProjectId) {
        project = this.world.projects.find((p) => p.id === user!.defaultProjectId);
      }
    }
    if (!project) throw keystoneError(401, UNAUTHORIZED_MESSAGE);
    const roles = user.roles.get(project.id);
    if (!roles || roles.length === 0) throw unauthorized();

    const now = this.world.now();
    this.purgeExpired(now);
    const token = `gAAAAA${randomBytes(132).toString('base64url')}`.slice(0, 183);
    const info: TokenInfo = {
      token, userId: user.id, projectId: project.id, roles, issuedAt: now, expiresAt: now + this.world.settings.tokenTtlMs,
      methods: appCred ? ['application_credential'] : methods.filter((x): x is string => typeof x === 'string'),
      appCredentialId: appCred?.id ?? null,
    };
    this.tokens.set(token, info);
    const nocatalog = req.url.searchParams.has('nocatalog');
    return { status: 201, headers: { 'X-Subject-Token': token }, body: { token: this.tokenBody(info, user, project, !nocatalog) } };
  }

  private validate(req: SimRequest): SimResponse {
    this.authenticate(req);
    const subject = req.headers['x-subject-token'];
    const info = typeof subject === 'string' ? this.tokens.get(subject) : undefined;
    if (!info || info.expiresAt <= this.world.now()) throw keystoneError(404, `Could not find token: ${String(subject)}.`);
    const user = this.world.users.find((u) => u.id === info.userId)!;
    const project = this.world.projects.find((p) => p.id === info.projectId)!;
    return { status: 200, headers: { 'X-Subject-Token': info.token }, body: { token: this.tokenBody(info, user, project, true) } };
  }

  private tokenBody(info: TokenInfo, user: SimUser, project: SimProject, withCatalog: boolean) {
    const domain = (id: string) => ({ id, name: this.world.domains.find((d) => d.id === id)?.name ?? id });
    return {
      methods: info.methods,
      user: { id: user.id, name: user.name, domain: domain(user.domainId), password_expires_at: null },
      audit_ids: [randomBytes(16).toString('base64url').slice(0, 22)],
      expires_at: keystoneTime(info.expiresAt),
      issued_at: keystoneTime(info.issuedAt),
      project: { id: project.id, name: project.name, domain: domain(project.domainId) },
      is_domain: false,
      roles: info.roles.map((r) => ({ id: `role-${r}`, name: r })),
      ...(info.appCredentialId ? { application_credential: { id: info.appCredentialId, name: 'cmpha', restricted: true } } : {}),
      ...(withCatalog ? { catalog: this.catalog(project.id) } : {}),
    };
  }

  private purgeExpired(now: number): void {
    if (++this.issued % 256 !== 0) return;
    for (const [k, v] of this.tokens) if (v.expiresAt <= now) this.tokens.delete(k);
  }
}

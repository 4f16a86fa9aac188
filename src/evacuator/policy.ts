/**
 * The evacuability policy: which servers of a failed host are moved, in what order, and which never are.
 * Pure: a rule list parsed once from `[evacuation] policy` (src/config) and a server with what the cloud says of
 * it (its flavor's extra specs, its image's properties, its host's aggregates, its metadata, name and project).
 *
 * How rules combine (docs/configuration.md "Evacuation policy" says the same for operators):
 * - whether a server moves: the FIRST rule, in the order written, that matches and says `evacuate` or `never`
 *   decides; when none does, `require_metadata` (KEY=VALUE set → evacuate, else never) when it is set, otherwise
 *   `policy_default`. An operator reads one list top to bottom, as a firewall's, and `cmpha check` names the rule.
 * - its priority: the first matching `priority N` rule; when none matches, the number in the server's
 *   `priority_metadata_key` metadata; otherwise 0. Higher moves first.
 * - its tier: from its priority and `tiers` (thresholds, highest first): tier 1 is every server whose priority is
 *   at least the first threshold, and so on; with no thresholds every server is in tier 1. A tier is started only
 *   once every server of the tiers before it is settled (the gate).
 * A rule that needs something the cloud did not say (an image that cannot be read) does not match: the server is
 * judged by the rules after it, and the verdict says what was unknown.
 */

/** Where a rule looks. */
export const POLICY_SOURCES = ['flavor', 'image', 'aggregate', 'metadata', 'name', 'project'] as const;
export type PolicySource = (typeof POLICY_SOURCES)[number];

export type PolicyAction =
  | { readonly kind: 'evacuate' }
  | { readonly kind: 'never' }
  | { readonly kind: 'priority'; readonly value: number };

export interface PolicyRule {
  readonly source: PolicySource;
  /** The extra spec, property or metadata key (flavor, image, aggregate, metadata); absent for name and project. */
  readonly key?: string;
  /** A glob (`*`, `?`), matched whole and without regard to case. */
  readonly pattern: string;
  readonly action: PolicyAction;
  /** As the operator wrote it (normalised spacing): what `cmpha check` and the timeline name. */
  readonly text: string;
}

/** The compiled policy, as [evacuation] holds it. */
export interface EvacuationPolicy {
  readonly rules: readonly PolicyRule[];
  /** What happens to a server no evacuate/never rule matched (and require_metadata unset). */
  readonly fallback: 'evacuate' | 'never';
  /** Priority thresholds, highest first. */
  readonly tiers: readonly number[];
}

/** One host aggregate (placement group) the failed host is in, with its metadata. */
export interface HostGroupView {
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** What the policy looks at; undefined fields: the cloud did not say (a rule on them does not match). */
export interface PolicySubject {
  readonly name: string;
  readonly projectId: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly flavorExtraSpecs?: Readonly<Record<string, string>>;
  readonly imageProperties?: Readonly<Record<string, string>>;
  /** The failed host's aggregates. */
  readonly aggregates?: readonly HostGroupView[];
}

export interface PolicyVerdict {
  readonly move: boolean;
  /** The rule (as written) or the setting that decided whether it moves. */
  readonly decidedBy: string;
  readonly priority: number;
  /** What set the priority ('' when it is the default 0). */
  readonly priorityFrom: string;
  /** 1-based. */
  readonly tier: number;
  /** Rules that could not be judged because the cloud did not say what they look at. */
  readonly unknown?: readonly string[];
}

export const EMPTY_POLICY: EvacuationPolicy = { rules: [], fallback: 'evacuate', tiers: [] };

const RULE = /^([a-z]+):(.+?)\s*->\s*(.+)$/i;

/**
 * Parses one rule, `SOURCE:MATCH -> ACTION`: SOURCE one of flavor, image, aggregate, metadata (MATCH is
 * `KEY=GLOB`; the key may hold colons, as `hw:cpu_policy`) or name, project (MATCH is a GLOB); ACTION
 * `evacuate`, `never` or `priority N`. Returns the rule, or why it is not one.
 */
export function parsePolicyRule(raw: string): PolicyRule | string {
  const t = raw.trim();
  const m = RULE.exec(t);
  if (!m) return `"${t}" is not SOURCE:MATCH -> ACTION (e.g. name:amphora-* -> never)`;
  const source = m[1]!.toLowerCase();
  if (!(POLICY_SOURCES as readonly string[]).includes(source)) return `"${t}": source "${m[1]}" is not one of ${POLICY_SOURCES.join(', ')}`;
  const match = m[2]!.trim();
  const act = m[3]!.trim().toLowerCase();
  let action: PolicyAction;
  if (act === 'evacuate' || act === 'never') action = { kind: act };
  else {
    const p = /^priority\s+(-?\d{1,9})$/.exec(act);
    if (!p) return `"${t}": action "${m[3]!.trim()}" is not evacuate, never or priority N (an integer)`;
    action = { kind: 'priority', value: Number(p[1]) };
  }
  const src = source as PolicySource;
  let key: string | undefined;
  let pattern = match;
  if (src !== 'name' && src !== 'project') {
    const eq = match.indexOf('=');
    if (eq <= 0) return `"${t}": ${src} rules match KEY=GLOB (e.g. ${src}:evacuable=false)`;
    key = match.slice(0, eq).trim();
    pattern = match.slice(eq + 1).trim();
    if (key.length === 0) return `"${t}": the key before = is empty`;
  }
  if (pattern.length === 0) return `"${t}": the pattern is empty (use * for any value)`;
  const text = `${src}:${key !== undefined ? `${key}=` : ''}${pattern} -> ${action.kind === 'priority' ? `priority ${action.value}` : action.kind}`;
  return { source: src, ...(key !== undefined ? { key } : {}), pattern, action, text };
}

/** A glob as an anchored, case-insensitive regular expression: `*` any run, `?` one character, the rest literal. */
export function globRegExp(glob: string): RegExp {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&'))).join('');
  return new RegExp(`^${body}$`, 'is');
}

/** Memoised: a fleet's inventory judges thousands of servers against the same few rules. */
const compiled = new Map<string, RegExp>();
function globMatch(glob: string, value: string): boolean {
  let re = compiled.get(glob);
  if (!re) compiled.set(glob, (re = globRegExp(glob)));
  return re.test(value);
}

/** Whether `rule` matches: true, false, or undefined when the cloud did not say what it looks at. */
export function ruleMatches(rule: PolicyRule, s: PolicySubject): boolean | undefined {
  const inMap = (m: Readonly<Record<string, string>> | undefined): boolean | undefined => {
    if (m === undefined) return undefined;
    const v = m[rule.key!];
    return v !== undefined && globMatch(rule.pattern, v);
  };
  switch (rule.source) {
    case 'name': return globMatch(rule.pattern, s.name);
    case 'project': return globMatch(rule.pattern, s.projectId);
    case 'metadata': return inMap(s.metadata);
    case 'flavor': return inMap(s.flavorExtraSpecs);
    case 'image': return inMap(s.imageProperties);
    case 'aggregate': return s.aggregates === undefined ? undefined : s.aggregates.some((a) => inMap(a.metadata));
  }
}

/** The old settings the policy keeps honouring (require_metadata, priority_metadata_key). */
export interface LegacyPolicyKeys {
  readonly requireMetadata?: { readonly key: string; readonly value: string } | undefined;
  readonly priorityMetadataKey?: string | undefined;
}

/** Metadata value → priority; anything that is not a number counts as 0. */
export function metadataPriority(metadata: Readonly<Record<string, string>>, key: string | undefined): number {
  if (!key) return 0;
  const raw = metadata[key];
  if (raw === undefined) return 0;
  const n = Number(raw.trim());
  return Number.isFinite(n) ? n : 0;
}

/** 1-based tier of a priority: 1 + the number of thresholds above it. */
export function tierOf(priority: number, tiers: readonly number[]): number {
  return 1 + tiers.filter((t) => priority < t).length;
}

/** Judges one server: whether it moves and why, its priority and its tier. */
export function judgeServer(s: PolicySubject, policy: EvacuationPolicy, legacy: LegacyPolicyKeys = {}): PolicyVerdict {
  let move: { move: boolean; by: string } | undefined;
  let prio: { value: number; from: string } | undefined;
  const unknown: string[] = [];
  for (const rule of policy.rules) {
    const isMove = rule.action.kind !== 'priority';
    if (isMove ? move !== undefined : prio !== undefined) continue;
    const hit = ruleMatches(rule, s);
    if (hit === undefined) {
      unknown.push(rule.text);
      continue;
    }
    if (!hit) continue;
    if (rule.action.kind === 'priority') prio = { value: rule.action.value, from: rule.text };
    else move = { move: rule.action.kind === 'evacuate', by: rule.text };
    if (move && prio) break;
  }
  if (!move) {
    const req = legacy.requireMetadata;
    if (req) move = { move: s.metadata[req.key] === req.value, by: `require_metadata ${req.key}=${req.value}${s.metadata[req.key] === req.value ? '' : ' (not set)'}` };
    else move = { move: policy.fallback === 'evacuate', by: `policy_default = ${policy.fallback}` };
  }
  if (!prio && legacy.priorityMetadataKey && s.metadata[legacy.priorityMetadataKey] !== undefined) {
    prio = { value: metadataPriority(s.metadata, legacy.priorityMetadataKey), from: `metadata ${legacy.priorityMetadataKey}` };
  }
  const priority = prio?.value ?? 0;
  return {
    move: move.move, decidedBy: move.by, priority, priorityFrom: prio?.from ?? '', tier: tierOf(priority, policy.tiers),
    ...(unknown.length > 0 ? { unknown } : {}),
  };
}

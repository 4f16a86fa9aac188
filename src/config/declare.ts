import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { Secret } from './secret.js';

// One declaration per cmpha.conf key: its INI name, its zod field (which parses, validates and transforms the
// text to its typed form, durations in milliseconds), its help and its default. The typed config, the
// reference, cmpha.conf.example and docs/configuration.md are all derived from these declarations.

/** What an INI value may arrive as, before a field turns it into its type. */
export type Raw = string | boolean | number | undefined;

/** A field: a zod schema from the raw INI value to the typed value. */
export type Field<T> = z.ZodType<T, Raw>;

/** The default as documented (text as written in the file), attached to a field by its builder. */
export const fieldDefaults = z.registry<{ default: string }>();

export interface KeyDecl<T = unknown> {
  readonly kind: 'key';
  /** The name in the INI file. */
  readonly ini: string;
  readonly field: Field<T>;
  readonly help: string;
  /** As written in the file; '' when there is none. Taken from the field unless overridden. */
  readonly default: string;
  /** Shown uncommented in cmpha.conf.example with this value. */
  readonly example?: string;
}

/** A secret given inline (`key`) or by file (`key_file`), never both: one typed Secret. */
export interface SecretDecl {
  readonly kind: 'secret';
  readonly ini: string;
  readonly help: string;
  readonly example?: string;
}

export type Decl = KeyDecl<unknown> | SecretDecl;
export type Decls = Readonly<Record<string, Decl>>;

export function key<T>(ini: string, field: Field<T>, help: string, extra: { example?: string; default?: string } = {}): KeyDecl<T> {
  return { kind: 'key', ini, field, help, default: extra.default ?? fieldDefaults.get(field)?.default ?? '', ...(extra.example !== undefined ? { example: extra.example } : {}) };
}

/** The typed value a key takes when it is not set (what its field makes of an absent value). */
export function defaultOf<T>(decl: KeyDecl<T>): Exclude<T, undefined> {
  const v = decl.field.parse(undefined);
  if (v === undefined) throw new Error(`key ${decl.ini} has no default`);
  return v as Exclude<T, undefined>;
}

export function secretKey(ini: string, help: string, extra: { example?: string } = {}): SecretDecl {
  return { kind: 'secret', ini, help, ...extra };
}

type Out<D> = D extends KeyDecl<infer T> ? T : D extends SecretDecl ? Secret | undefined : never;
type RequiredProps<D extends Decls> = { [P in keyof D]: undefined extends Out<D[P]> ? never : P }[keyof D];
type OptionalProps<D extends Decls> = { [P in keyof D]: undefined extends Out<D[P]> ? P : never }[keyof D];
type Simplify<T> = { [K in keyof T]: T[K] } & {};

/** The typed form of a set of declarations: keys that may be unset are optional properties. */
export type Typed<D extends Decls> = Simplify<
  { readonly [P in RequiredProps<D>]: Out<D[P]> } & { readonly [P in OptionalProps<D>]?: Exclude<Out<D[P]>, undefined> }
>;

/** One problem found by a section check; `key` is an INI key of the section. */
export interface SectionProblem {
  readonly key?: string;
  readonly message: string;
}

/** A problem of one named key. */
export interface KeyProblem extends SectionProblem {
  readonly key: string;
}

export interface SectionDecl<D extends Decls, T = Typed<D>> {
  /** The section as written (`detector`), or its pattern (`host:NAME`). */
  readonly name: string;
  readonly help: string;
  readonly decls: D;
  /** The INI keys, strict: the shape shows exactly which keys the section accepts. */
  readonly object: z.ZodObject<Record<string, z.ZodType>>;
  /** Raw INI values → typed value; issues carry the INI key as their path. */
  readonly schema: z.ZodType<T, Record<string, Raw>>;
}

/** The INI names a declaration takes (`password` and `password_file` for a secret). */
export function iniKeys(d: Decl): string[] {
  return d.kind === 'secret' ? [d.ini, `${d.ini}_file`] : [d.ini];
}

const rawText = z.union([z.string(), z.number(), z.boolean()]).optional();

/** Reads a secret from its key or its file, reporting problems against the INI key that holds them. */
export function readSecret(ini: string, value: Raw, file: Raw): { secret?: Secret; problem?: SectionProblem } {
  const inline = value === undefined ? undefined : String(value);
  const path = file === undefined ? undefined : String(file).trim();
  if (inline !== undefined && path !== undefined) return { problem: { key: ini, message: `set both ${ini} and ${ini}_file; keep one` } };
  if (path !== undefined) {
    if (path === '') return { problem: { key: `${ini}_file`, message: 'is empty: give the path of a file holding the secret, or remove the key' } };
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      return { problem: { key: `${ini}_file`, message: `cannot read secret file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` } };
    }
    const secret = text.replace(/\r?\n$/, '');
    if (secret === '') return { problem: { key: `${ini}_file`, message: `secret file ${path} is empty` } };
    return { secret: new Secret(secret) };
  }
  if (inline === undefined) return {};
  return { secret: new Secret(inline) };
}

/**
 * Declares one section. `check` sees the typed value and reports problems that involve several keys
 * (e.g. `probe = sim` needs `sim_url`); `finish` may reshape the typed value when a key's meaning depends
 * on another (kept rare: most keys map one to one).
 */
export function defineSection<D extends Decls, T = Typed<D>>(
  name: string,
  help: string,
  decls: D,
  opts: { check?: (value: Typed<D>) => readonly SectionProblem[]; finish?: (value: Typed<D>) => T; passthrough?: boolean } = {},
): SectionDecl<D, T> {
  const shape: Record<string, z.ZodType> = {};
  for (const d of Object.values(decls)) {
    if (d.kind === 'secret') {
      shape[d.ini] = rawText;
      shape[`${d.ini}_file`] = rawText;
    } else {
      shape[d.ini] = d.field;
    }
  }
  const object = opts.passthrough ? z.object(shape).catchall(rawText) : z.object(shape).strict();
  const schema = object.transform((raw, ctx) => {
    const out: Record<string, unknown> = {};
    const r = raw as Record<string, Raw>;
    let failed = false;
    for (const [prop, d] of Object.entries(decls)) {
      if (d.kind === 'secret') {
        const { secret, problem } = readSecret(d.ini, r[d.ini], r[`${d.ini}_file`]);
        if (problem) { ctx.addIssue({ code: 'custom', path: [problem.key ?? d.ini], message: problem.message }); failed = true; }
        if (secret) out[prop] = secret;
      } else if (r[d.ini] !== undefined) {
        out[prop] = r[d.ini];
      }
    }
    if (failed) return z.NEVER;
    const typed = out as Typed<D>;
    const problems = opts.check?.(typed) ?? [];
    for (const p of problems) ctx.addIssue({ code: 'custom', path: p.key === undefined ? [] : [p.key], message: p.message });
    if (problems.length > 0) return z.NEVER;
    return (opts.finish ? opts.finish(typed) : typed) as T;
  }) as unknown as z.ZodType<T, Record<string, Raw>>;
  return { name, help, decls, object: object as unknown as z.ZodObject<Record<string, z.ZodType>>, schema };
}

/** The INI names of every key a section accepts. */
export function sectionKeys(decls: Decls): string[] {
  return Object.values(decls).flatMap(iniKeys);
}

/** What parseEachKey makes of a set of values. */
export interface EachKey<D extends Decls> {
  readonly value: Typed<D>;
  /** Every key's own problems, in declaration order. */
  readonly problems: KeyProblem[];
  /** The values no declaration took, by INI key: pattern keys (`header.NAME`) and unknown keys, for the caller. */
  readonly rest: Readonly<Record<string, string | Secret>>;
}

/**
 * Parses values one declared key at a time, for keys that arrive already split out of their INI section (a
 * notifier's type-specific keys, secrets already read from their files). A key that fails is reported and takes
 * its default, so the checks that involve several keys still see every other key and all problems are reported
 * at once. Pattern keys (an INI name ending in `.NAME`) are left to the caller, in `rest`.
 */
export function parseEachKey<D extends Decls>(decls: D, values: Readonly<Record<string, string | Secret>>): EachKey<D> {
  const out: Record<string, unknown> = {};
  const problems: KeyProblem[] = [];
  const taken = new Set<string>();
  for (const [prop, d] of Object.entries(decls)) {
    if (d.ini.endsWith('.NAME')) continue;
    taken.add(d.ini);
    const v = values[d.ini];
    if (d.kind === 'secret') {
      const secret = v === undefined ? undefined : v instanceof Secret ? v : new Secret(v.trim());
      if (secret && !secret.empty) out[prop] = secret;
      continue;
    }
    if (v instanceof Secret) problems.push({ key: d.ini, message: 'is not a secret; give it as plain text' });
    const r = d.field.safeParse(v instanceof Secret ? undefined : v);
    if (!r.success) for (const i of r.error.issues) problems.push({ key: d.ini, message: i.message });
    const typed = r.success ? r.data : d.field.safeParse(undefined).data;
    if (typed !== undefined) out[prop] = typed;
  }
  const rest = Object.fromEntries(Object.entries(values).filter(([k]) => !taken.has(k)));
  return { value: out as Typed<D>, problems, rest };
}

import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { describeDisarm, describeScope, parseUntil, scopeOf, type DisarmView } from '../../detector/disarm.js';
import { arm, disarm, disarmAudit, disarmViews } from '../../detector/ha-control.js';
import type { Redis } from 'ioredis';
import { CmphaError } from '../../shared/errors.js';
import { configPathOf, EXIT_CONFIG, EXIT_FAILED, withConfigOption } from '../context.js';
import { withOpsRedis, type OpsConfig } from '../ops-config.js';
import { outputOptions, renderOne, withOutputOptions } from '../output.js';

interface ScopeOpts {
  host?: string;
  aggregate?: string;
  zone?: string;
  all?: boolean;
  reason?: string;
  until?: string;
  config?: string;
  json?: boolean;
  format?: string;
  column?: string[];
}

/** Who runs the command, as the audit list records it: the person behind sudo when there is one. */
export function cliUser(env: Readonly<Record<string, string | undefined>> = process.env): string {
  let user = env.SUDO_USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = env.USER ?? 'unknown';
    }
  }
  return `${user}@${hostname()} (cli)`;
}

function withScope(cmd: Command, verb: string): Command {
  return cmd
    .option('--host <name>', `${verb} one compute host (the nova-compute service host)`)
    .option('--aggregate <name>', `${verb} every host of a host aggregate`)
    .option('--zone <name>', `${verb} every host of an availability zone`)
    .option('--all', `${verb} the whole cloud`);
}

/** The work with [redis]; a bad scope or until exits 2 (a usage error), any other failure 1. */
function withRedis(program: Command, opts: ScopeOpts, what: string, fn: (config: OpsConfig, redis: Redis) => Promise<void>): Promise<void> {
  return withOpsRedis(configPathOf(program, opts), `ha ${what}`, fn,
    (err) => (err instanceof CmphaError && (err.code === 'bad_disarm_scope' || err.code === 'bad_until') ? EXIT_CONFIG : EXIT_FAILED));
}

/** A view as `-f json|yaml` prints it (times as ISO text); `cmpha check -f json` shows the same. */
export function disarmRecord(v: DisarmView): Record<string, unknown> {
  return {
    scope: v.key, reason: v.reason, by: v.by, at: new Date(v.at).toISOString(), until: v.until === null ? null : new Date(v.until).toISOString(),
    state: v.state, pendingOn: v.pendingOn, overdue: v.overdue,
  };
}

export function registerHaCommands(program: Command): void {
  const ha = program.command('ha').description('take hosts, aggregates, zones or the whole cloud out of HA for maintenance, and back (needs only [redis])');

  withConfigOption(withOutputOptions(withScope(ha.command('disarm'), 'disarm'), { json: true })
    .description('stop fencing and evacuating in a scope: detection goes on and reports, no incident is opened there; incidents already running finish first')
    .requiredOption('--reason <text>', 'why (shown to everyone, kept in the audit list)')
    .option('--until <time>', 'when it should be armed again: an ISO time or a duration from now (2h); past it, CmphaDisarmOverdue fires (it is not armed by itself)')
    .addHelpText('after', '\nThe same scope disarmed again replaces its reason and --until. `cmpha ha status` lists what is disarmed.'))
    .action(async (opts: ScopeOpts) => withRedis(program, opts, 'disarm', async (config, redis) => {
      const now = Date.now();
      const scope = scopeOf(opts);
      const r = await disarm(redis, config.redis.prefix, { scope, reason: opts.reason ?? '', by: cliUser(), until: parseUntil(opts.until, now), now }, Number.POSITIVE_INFINITY);
      const out = outputOptions(opts);
      if (out.format !== 'table') {
        process.stdout.write(renderOne({ ...disarmRecord(r.view), replaced: r.replaced !== null }, out));
        return;
      }
      process.stdout.write(`${describeDisarm(r.view)}\n`);
      if (r.replaced) process.stdout.write(`(replaces the disarm by ${r.replaced.by}: ${r.replaced.reason})\n`);
      process.stdout.write(`a host there that dies is reported and not recovered until \`cmpha ha arm ${argsOf(opts)}\`\n`);
    }));

  withConfigOption(withOutputOptions(withScope(ha.command('arm'), 'arm'), { json: true })
    .description('put a disarmed scope back under HA (--all: every disarm); a host already dead there is recovered at the next round')
    .option('--reason <text>', 'why (kept in the audit list)', ''))
    .action(async (opts: ScopeOpts) => withRedis(program, opts, 'arm', async (config, redis) => {
      const scope = scopeOf(opts);
      const armed = await arm(redis, config.redis.prefix, { scope, by: cliUser(), reason: opts.reason ?? '', now: Date.now() });
      const out = outputOptions(opts);
      if (out.format !== 'table') {
        process.stdout.write(renderOne({ armed: armed.map((e) => describeScope(e.scope)) }, out));
        return;
      }
      for (const e of armed) process.stdout.write(`armed ${describeScope(e.scope)} (disarmed by ${e.by} at ${new Date(e.at).toISOString()}: ${e.reason})\n`);
    }));

  withConfigOption(withOutputOptions(ha.command('status'), { json: true })
    .description('what is disarmed, whether it is in effect or waits for an incident, and the latest changes')
    .option('--audit <n>', 'show this many audit lines (default 10)', '10'))
    .action(async (opts: ScopeOpts & { audit?: string }) => withRedis(program, opts, 'status', async (config, redis) => {
      const now = Date.now();
      // The [detector] disarm_limit is the controller's (cmpha_ha_disarm_overdue); here only --until makes a disarm overdue.
      const views = await disarmViews(redis, config.redis.prefix, now, Number.POSITIVE_INFINITY);
      const audit = await disarmAudit(redis, config.redis.prefix, Math.max(0, Math.min(1000, Number(opts.audit ?? 10) || 0)));
      const out = outputOptions(opts);
      if (out.format !== 'table') {
        process.stdout.write(renderOne({ disarmed: views.map(disarmRecord), audit: audit.map((a) => ({ ...a, at: new Date(a.at).toISOString() })) }, out));
        return;
      }
      const lines = views.length === 0 ? ['nothing is disarmed: every host is under HA'] : views.map(describeDisarm);
      if (audit.length > 0) {
        lines.push('', 'latest changes (newest first):');
        for (const a of audit) lines.push(`  ${new Date(a.at).toISOString()}  ${a.action.padEnd(9)} ${describeScope(a.scope)} by ${a.by}: ${a.reason}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }));
}

function argsOf(o: ScopeOpts): string {
  if (o.all) return '--all';
  if (o.host) return `--host ${o.host}`;
  if (o.aggregate) return `--aggregate ${o.aggregate}`;
  return `--zone ${o.zone ?? ''}`;
}

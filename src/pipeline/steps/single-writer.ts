import { proveSingleWriter, type SingleWriterDeps, type WriterExpectation } from '../../fencing/ceph/single-writer.js';
import { errorMessage } from '../../shared/errors.js';
import { note, record, type StepContext, type StepOutcome } from './context.js';
import { notifyOnce } from './notify.js';

export type { SingleWriterDeps };

/**
 * After the evacuations: every verified server's RBD disks must have exactly one watcher, from the host Nova
 * now places it on. A second or foreign writer fails that server (`double-writer`), so the incident is not
 * called resolved, and pages at once. Runs again harmlessly: a failed server stays failed.
 */
export async function singleWriterStep(ctx: StepContext, deps: SingleWriterDeps): Promise<StepOutcome> {
  const rec = await record(ctx);
  const verified = (await ctx.store.listInstances(ctx.incidentId)).filter((e) => e.state === 'verified' && e.target);
  if (verified.length === 0) return { kind: 'skip', reason: 'no recovered server to check' };
  const expected: WriterExpectation[] = verified.map((e) => ({ serverId: e.id, serverName: e.name, host: e.target!, hostIps: deps.storageIpsOf(e.target!) }));
  let findings;
  try {
    findings = await proveSingleWriter(deps.fence, expected, { timeoutMs: deps.timeoutMs, pollIntervalMs: deps.pollIntervalMs, ...(ctx.signal ? { signal: ctx.signal } : {}), ...(deps.volumes ? { volumes: deps.volumes } : {}) });
  } catch (err) {
    await note(ctx, 'writers', 'warning', `single-writer proof could not read Ceph: ${errorMessage(err)}`);
    return { kind: 'skip', reason: 'Ceph unreadable' };
  }
  const doubles = findings.filter((f) => f.verdict === 'double-writer');
  for (const f of doubles) {
    ctx.metrics?.doubleWriters?.inc();
    // The one way out of `verified` (see src/incidents/instance-transitions.ts): a re-run finds it failed already.
    await ctx.store.updateInstance(ctx.incidentId, f.serverId, 'double_writer', (x) => (x.state !== 'verified' ? undefined : { error: `double-writer: ${f.detail}` }));
    await note(ctx, 'writers', 'critical', `DOUBLE WRITER: ${f.detail}`, { serverId: f.serverId, data: { images: f.images } });
  }
  for (const f of findings.filter((x) => x.verdict === 'unproven')) {
    await note(ctx, 'writers', 'warning', `single writer not proven: ${f.detail}`, { serverId: f.serverId, data: { images: f.images } });
  }
  const singles = findings.filter((f) => f.verdict === 'single');
  const onCeph = findings.filter((f) => f.verdict !== 'not-on-ceph').length;
  // Each disk with the watcher address seen on it: the proof names what it saw, not only a count.
  const seen = singles.flatMap((f) => f.images.map((i) => `${f.serverName} ${i.image} ${i.watchers.join(' ')}`));
  await note(ctx, 'writers', doubles.length > 0 ? 'critical' : 'info',
    `single-writer proof: ${singles.length} of ${onCeph} server(s) on Ceph have exactly one writer per disk, on their new host; ${doubles.length} double writer(s)${seen.length > 0 ? `; watchers: ${seen.join(', ')}` : ''}`);
  if (doubles.length > 0) {
    await notifyOnce(ctx, rec, {
      type: 'double-writer', severity: 'critical',
      summary: `${rec.host}: ${doubles.length} recovered server(s) have a disk written from two places`,
      details: doubles.map((f) => f.detail).join('\n'),
    });
  }
  return { kind: 'done' };
}

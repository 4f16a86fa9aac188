import { verifyNetworkStep } from '../evacuator/verify-network.js';
import { verifyServer } from '../evacuator/verify-server.js';
import { unlessSettled } from '../incidents/instance-transitions.js';
import { isFinalInstanceState, type IncidentRecord } from '../incidents/types.js';
import { CmphaError, errorMessage, isRetryable } from '../shared/errors.js';
import { recoveryEnd } from './ended.js';
import { prepareIncident, type PrepareResult } from './prepare-incident.js';
import { note, type ServerInput, type ServerOutcome, type StepContext, type StepOutcome } from './steps/context.js';
import { moveServerStep } from './steps/evacuate.js';
import { closeEarly, finalizeStep } from './steps/finalize.js';
import { singleWriterStep } from './steps/single-writer.js';
import { passTierGate } from './tier-gate.js';
import { isHeldBack } from './held-back.js';
import { watchPowerStep } from './steps/watch-power.js';

/**
 * The one runner of a recovery. An incident runs in four phases: prepare (up to the evacuations), one
 * `server` phase (evacuate until ACTIVE elsewhere, inside an evacuation slot) and one `network` phase (outside
 * it) per server, and finalize. Each phase is an attempt numbered by whoever retries it (BullMQ in
 * production, test/helpers/run-incident.ts in tests); the runner decides with the error whether that attempt was the
 * last, and on the last one records the failure, closes and notifies before anything gives up, so a crash or
 * an exhausted retry loses nothing.
 */
export interface Attempt {
  /** 1-based. */
  readonly number: number;
  readonly max: number;
}

/** The last attempt of a phase failed and that was recorded: the queue must not retry it. */
export class GaveUp extends CmphaError {
  constructor(message: string, cause: unknown) {
    super('gave_up', message, { cause });
  }
}

export function isFinalAttempt(a: Attempt, err: unknown): boolean {
  return !isRetryable(err) || a.number >= a.max;
}

/**
 * This controller no longer leads (the leadership hook said so). It must not write the incident's end either:
 * the phase stops unrecorded and is left for the leader.
 */
export function isDeposed(err: unknown): boolean {
  return err instanceof CmphaError && err.code === 'deposed';
}

/**
 * The incident closed while this phase ran (another job or controller closed it): the store refused the
 * phase's write, since a closed incident's record takes no more entries from its recovery. Nothing is left to
 * do or to record: the phase stops, says so in the log, and is not retried.
 */
export function isClosedUnderfoot(err: unknown): boolean {
  return err instanceof CmphaError && err.code === 'incident_closed';
}

const codeOf = (err: unknown) => (err instanceof CmphaError ? err.code : 'internal_error');

async function attempt<T>(ctx: StepContext, a: Attempt, what: string, run: () => Promise<T>, onFinal: (err: unknown) => Promise<void>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (ctx.signal?.aborted || err instanceof GaveUp || isDeposed(err) || isHeldBack(err)) throw err;
    if (isClosedUnderfoot(err)) {
      ctx.logger.warn({ incidentId: ctx.incidentId, err: errorMessage(err) }, `${what} stopped: the incident is closed and its record takes no more entries`);
      throw new GaveUp(errorMessage(err), err);
    }
    ctx.logger.warn({ incidentId: ctx.incidentId, err: errorMessage(err), attempt: a.number, of: a.max }, `${what} failed`);
    if (!isFinalAttempt(a, err)) throw err;
    await onFinal(err);
    throw new GaveUp(errorMessage(err), err);
  }
}

/** Up to the evacuations. On the final failure the incident closes `failed` with the step's code and pages. */
export async function runPrepare(ctx: StepContext, a: Attempt): Promise<PrepareResult> {
  return attempt(ctx, a, 'incident step', () => prepareIncident(ctx), async (err) => {
    const rec = await ctx.store.require(ctx.incidentId);
    await closeEarly(ctx, {
      status: 'failed', code: codeOf(err), severity: 'critical', event: 'incident-failed',
      reason: `recovery of ${rec.host} gave up after ${a.number} attempt(s): ${errorMessage(err)}`,
    });
  });
}

/** A per-server phase's result: the step's outcome; a skip without an entry when the incident is already closed. */
export type ServerPhaseOutcome = ServerOutcome | (StepOutcome & { readonly entry?: undefined });

/**
 * Evacuates one server until Nova runs it ACTIVE elsewhere: the part `evacuation.concurrency` limits. On the
 * final failure that server is recorded failed; the incident goes on.
 */
export async function runServer(ctx: StepContext, input: ServerInput, a: Attempt): Promise<ServerPhaseOutcome> {
  const rec = await ctx.store.require(ctx.incidentId);
  if (recoveryEnd(rec.status) === 'closed') return { kind: 'skip', reason: `incident ${rec.status}` };
  // A server held by its tier's gate, or waiting for room, has not tried anything yet (HeldBack: its slot goes
  // back, its job is delayed; the attempt passes it on untouched).
  await passTierGate(ctx, input.serverId);
  return attempt(ctx, a, 'evacuation attempt', () => moveServerStep(ctx, input), async (err) => {
    // Only a server never sent: one Nova may be moving is looked at again when the incident finalizes.
    const e = await ctx.store.updateInstance(ctx.incidentId, input.serverId, 'failed', (x) => (x.state !== 'pending' && x.state !== 'awaiting_capacity'
      ? undefined : { error: errorMessage(err), finishedAt: ctx.clock.now() }));
    await note(ctx, 'evacuate', 'critical', `${e.name}: gave up after ${a.number} attempt(s): ${errorMessage(err)}`, { serverId: input.serverId });
  });
}

/**
 * Verifies the network of one server Nova runs ACTIVE elsewhere, outside the evacuation slot (its own limit,
 * `evacuation.network_concurrency`). On the final failure the server is left as it is for finalize to check again.
 */
export async function runNetwork(ctx: StepContext, input: ServerInput, a: Attempt): Promise<ServerPhaseOutcome> {
  const rec = await ctx.store.require(ctx.incidentId);
  if (recoveryEnd(rec.status) === 'closed') return { kind: 'skip', reason: `incident ${rec.status}` };
  return attempt(ctx, a, 'network verification', () => verifyNetworkStep(ctx, input), async (err) => {
    const e = await ctx.store.getInstance(ctx.incidentId, input.serverId);
    await note(ctx, 'verify', 'warning', `${e?.name ?? input.serverId}: network verification gave up after ${a.number} attempt(s): ${errorMessage(err)}; checked again before the incident closes`, { serverId: input.serverId });
  });
}

/**
 * After every server phase ended: find out from Nova how servers left mid-way ended (a phase that gave up,
 * or died after its POST), check the fenced host stayed off, close from the instance entries and notify.
 */
export async function runFinalize(ctx: StepContext, a: Attempt): Promise<IncidentRecord> {
  return attempt(ctx, a, 'finalize', async () => {
    const rec = await ctx.store.require(ctx.incidentId);
    if (recoveryEnd(rec.status) === 'closed') return finalizeStep(ctx);
    await ctx.store.transition(ctx.incidentId, 'verification_started');
    for (const e of await ctx.store.listInstances(ctx.incidentId)) {
      if (isFinalInstanceState(e.state)) continue;
      if ((e.state === 'evacuated' || e.state === 'evacuating') && a.number < a.max) await verifyServer(ctx, { serverId: e.id });
      else {
        await ctx.store.updateInstance(ctx.incidentId, e.id, 'failed',
          unlessSettled((x) => ({ error: x.error ?? `evacuation did not finish (left ${x.state})`, finishedAt: ctx.clock.now() })));
      }
    }
    if (ctx.singleWriter) await singleWriterStep(ctx, ctx.singleWriter);
    await watchPowerStep(ctx);
    return finalizeStep(ctx);
  }, async (err) => { await recordStopped(ctx, `finalizing gave up after ${a.number} attempt(s): ${errorMessage(err)}`, codeOf(err)); });
}

/**
 * The net under the phases: a job that ended without its incident closing (the queue failed it outside the
 * processor) still closes it `failed` and pages.
 */
export async function recordStopped(ctx: StepContext, reason: string, code = 'job_failed'): Promise<void> {
  const rec = await ctx.store.getRecord(ctx.incidentId);
  if (!rec || recoveryEnd(rec.status) === 'closed') return;
  await closeEarly(ctx, { status: 'failed', code, severity: 'critical', event: 'incident-failed', reason: `recovery of ${rec.host} stopped: ${reason}` });
}

import type { Redis } from 'ioredis';
import { RELEASED, type BrakeState } from './guard.js';
import { detectorKeys } from './keys.js';

/** How long an unanswered `cmpha resume` stays pending when no controller runs to read it. */
const RESUME_TTL_MS = 15 * 60_000;

/** Brake state shared by every replica, so a restart or a new leader does not forget an ongoing storm. */
export class StormBrakeStore {
  private readonly keys: ReturnType<typeof detectorKeys>;

  constructor(private readonly redis: Redis, prefix: string) {
    this.keys = detectorKeys(prefix);
  }

  async load(): Promise<BrakeState> {
    const raw = await this.redis.get(this.keys.brake);
    if (!raw) return RELEASED;
    try {
      const v = JSON.parse(raw) as Partial<BrakeState>;
      return {
        active: v.active === true,
        since: typeof v.since === 'number' ? v.since : null,
        reason: typeof v.reason === 'string' ? v.reason : null,
        alerted: v.alerted === true,
        resumedHosts: Array.isArray(v.resumedHosts) ? v.resumedHosts.filter((h): h is string => typeof h === 'string') : null,
      };
    } catch {
      // A brake we cannot read stays on: that is the safe side.
      return { active: true, since: null, reason: 'stored storm-brake state is unreadable', alerted: false, resumedHosts: null };
    }
  }

  async save(state: BrakeState): Promise<void> {
    await this.redis.set(this.keys.brake, JSON.stringify(state));
  }

  async resumeRequested(): Promise<boolean> {
    return (await this.redis.exists(this.keys.resume)) === 1;
  }

  async clearResume(): Promise<void> {
    await this.redis.del(this.keys.resume);
  }
}

export interface ResumeResult {
  /** Whether the brake was on when the operator asked. */
  readonly brakeActive: boolean;
  readonly reason: string | null;
  readonly since: number | null;
}

/**
 * What `cmpha resume` does: asks the active controller to let the hosts of the current storm through.
 * The leader reads the request at its next round; a storm that then grows brakes again.
 */
export async function resume(redis: Redis, prefix: string): Promise<ResumeResult> {
  const keys = detectorKeys(prefix);
  const state = await new StormBrakeStore(redis, prefix).load();
  await redis.set(keys.resume, String(Date.now()), 'PX', RESUME_TTL_MS);
  return { brakeActive: state.active, reason: state.reason, since: state.since };
}

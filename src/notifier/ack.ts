import type { Redis } from 'ioredis';
import { CmphaError } from '../shared/errors.js';
import { beforeDeadline, REDIS_DEADLINE_MS } from './deadline.js';

// Acknowledgements stop escalation repeats. They live in Redis under `<prefix>:ack:<incidentId>`, so an
// operator can acknowledge from any machine (`cmpha incidents ack ID`) and the controller sees it on its next repeat.

export interface Acknowledgement {
  readonly by: string;
  readonly at: number;
}

/** Long enough to outlive any escalation; short enough that Redis does not fill with old incidents. */
const ACK_TTL_S = 30 * 24 * 3600;

export function ackKey(prefix: string, incidentId: string): string {
  return `${prefix}:ack:${incidentId}`;
}

function checkId(incidentId: string): void {
  if (!/^[A-Za-z0-9._:-]{1,200}$/.test(incidentId)) {
    throw new CmphaError('ack_invalid_id', `"${incidentId}" is not an incident id (letters, digits, . _ : - only)`);
  }
}

export async function acknowledge(redis: Redis, prefix: string, incidentId: string, by: string, at = Date.now()): Promise<void> {
  checkId(incidentId);
  const value: Acknowledgement = { by: by.slice(0, 200), at };
  await redis.set(ackKey(prefix, incidentId), JSON.stringify(value), 'EX', ACK_TTL_S);
}

export async function getAcknowledgement(redis: Redis, prefix: string, incidentId: string): Promise<Acknowledgement | null> {
  const raw = await redis.get(ackKey(prefix, incidentId));
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw) as Partial<Acknowledgement>;
    return { by: String(v.by ?? 'unknown'), at: Number(v.at ?? 0) };
  } catch {
    // Someone set the key by hand (redis-cli SET ... 1): that is still an acknowledgement.
    return { by: raw, at: 0 };
  }
}

export interface AckStore {
  acknowledge(incidentId: string, by: string): Promise<void>;
  get(incidentId: string): Promise<Acknowledgement | null>;
}

export function createRedisAckStore(redis: Redis, prefix: string, deadlineMs = REDIS_DEADLINE_MS): AckStore {
  return {
    acknowledge: (id, by) => beforeDeadline(acknowledge(redis, prefix, id, by), deadlineMs, 'Redis SET'),
    get: (id) => beforeDeadline(getAcknowledgement(redis, prefix, id), deadlineMs, 'Redis GET'),
  };
}

/** Without Redis: acknowledgements made through this process only. */
export function createMemoryAckStore(): AckStore {
  const acks = new Map<string, Acknowledgement>();
  return {
    async acknowledge(id, by) {
      checkId(id);
      acks.set(id, { by, at: Date.now() });
    },
    async get(id) {
      return acks.get(id) ?? null;
    },
  };
}

/** An admitted evacuate start; `settle` is called once the POST has gone out (whatever its outcome). */
export interface StartSlot {
  settle(): Promise<void>;
  /** The gate held the start back (rate limit or stagger) before admitting it: the server is worth a second look. */
  readonly held?: boolean;
}

/** Admits evacuate POSTs: a global rate limit plus a stagger between starts of one incident. */
export interface StartGate {
  acquire(incidentId: string, signal?: AbortSignal): Promise<StartSlot>;
}

export const openGate: StartGate = { acquire: async () => ({ settle: async () => {} }) };

import type { IncidentOpener, IncidentOpenRequest } from '../../src/detector/types.js';

/** An incident opener that records what the detector asked to open (once per id) and when, on `now`'s clock. */
export class RecordingIncidents implements IncidentOpener {
  readonly opened: Array<IncidentOpenRequest & { openedAt: number }> = [];
  constructor(private readonly now: () => number = Date.now) {}
  async hasOpenIncident(host: string): Promise<boolean> {
    return this.opened.some((o) => o.host === host);
  }
  async open(req: IncidentOpenRequest): Promise<{ created: boolean }> {
    if (this.opened.some((o) => o.id === req.id)) return { created: false };
    this.opened.push({ ...req, openedAt: this.now() });
    return { created: true };
  }
}

import type { IncidentOpener, IncidentOpenRequest } from '../../src/detector/types.js';
import { isTerminalStatus, type ExistingIncident, type IncidentStatus, type TimelineEntry } from '../../src/incidents/types.js';

/**
 * An incident opener that records what the detector asked to open (once per id) and when, on `now`'s clock.
 * An incident stays `open` until the test moves it (`setStatus`, as its recovery would); what the detector said
 * about it (timeline notes, signs of life) is kept too.
 */
export class RecordingIncidents implements IncidentOpener {
  readonly opened: Array<IncidentOpenRequest & { openedAt: number; status: IncidentStatus }> = [];
  readonly notes: Array<{ id: string; level: TimelineEntry['level']; message: string }> = [];
  readonly life: Array<{ id: string; what: string; at: number }> = [];
  constructor(private readonly now: () => number = Date.now) {}
  private view(o: RecordingIncidents['opened'][number] | undefined): ExistingIncident | null {
    return o ? { id: o.id, host: o.host, status: o.status, openedAt: o.openedAt } : null;
  }
  async openIncidents(): Promise<readonly ExistingIncident[]> {
    return this.opened.filter((o) => !isTerminalStatus(o.status)).map((o) => this.view(o)!);
  }
  async openedSince(at: number): Promise<readonly ExistingIncident[]> {
    return this.opened.filter((o) => o.openedAt >= at).map((o) => this.view(o)!);
  }
  async incident(id: string): Promise<ExistingIncident | null> {
    return this.view(this.opened.find((o) => o.id === id));
  }
  async open(req: IncidentOpenRequest): Promise<{ created: boolean }> {
    if (this.opened.some((o) => o.id === req.id)) return { created: false };
    this.opened.push({ ...req, openedAt: this.now(), status: 'open' });
    return { created: true };
  }
  async hostShowedLife(id: string, what: string, at: number): Promise<{ aborted: boolean }> {
    if (!this.life.some((l) => l.id === id)) this.life.push({ id, what, at });
    const o = this.opened.find((x) => x.id === id);
    if (o?.status !== 'awaiting_fence') return { aborted: false };
    o.status = 'aborted';
    return { aborted: true };
  }
  async note(id: string, entry: { level: TimelineEntry['level']; message: string }): Promise<void> {
    this.notes.push({ id, level: entry.level, message: entry.message });
  }
  /** Moves an incident as its recovery would (say, to `awaiting_fence` after every fence failed). */
  setStatus(id: string, status: IncidentStatus): void {
    const o = this.opened.find((x) => x.id === id);
    if (!o) throw new Error(`no incident ${id}`);
    o.status = status;
  }
}

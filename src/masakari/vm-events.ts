// Which instance-monitor events mean "this guest failed and a restart may help". Masakari acts on three
// (LIFECYCLE STOPPED_FAILED, IO_ERROR IO_ERROR_REPORT, QEMU_GUEST_AGENT_ERROR STOPPED_FAILED); cmpha also takes
// a guest stopped or paused by its watchdog or by an I/O error. Everything else the monitor sends (a shutdown
// the owner asked for, a reboot, a watchdog reset libvirt already did) is recorded and ignored.

/** event → vir_domain_event → what happened, in words for the timeline. */
const FAILURES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  LIFECYCLE: {
    STOPPED_FAILED: 'the guest crashed (its QEMU process ended unexpectedly)',
    SUSPENDED_IOERROR: 'the guest was paused on an I/O error',
    SUSPENDED_WATCHDOG: 'the guest was paused by its watchdog',
  },
  IO_ERROR: {
    IO_ERROR_REPORT: 'the guest got an I/O error',
    IO_ERROR_PAUSE: 'the guest was paused on an I/O error',
  },
  WATCHDOG: {
    WATCHDOG_PAUSE: 'the guest hung and its watchdog paused it',
    WATCHDOG_POWEROFF: 'the guest hung and its watchdog powered it off',
    WATCHDOG_SHUTDOWN: 'the guest hung and its watchdog shut it down',
  },
  QEMU_GUEST_AGENT_ERROR: {
    STOPPED_FAILED: "the guest's agent stopped answering (the introspective monitor)",
  },
};

export type VmEventVerdict = { readonly act: true; readonly what: string } | { readonly act: false; readonly why: string };

/** Whether an instance-monitor event calls for a restart, and what it means. */
export function judgeVmEvent(event: string, virDomainEvent: string): VmEventVerdict {
  const what = FAILURES[event.toUpperCase()]?.[virDomainEvent.toUpperCase()];
  if (what) return { act: true, what };
  return { act: false, why: `${event} ${virDomainEvent} is not a failure cmpha restarts a guest for (it acts on ${Object.entries(FAILURES).flatMap(([e, d]) => Object.keys(d).map((k) => `${e} ${k}`)).join(', ')})` };
}

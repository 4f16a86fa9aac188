export const SMS_MAX = 160;

/**
 * One line of plain ASCII at most `max` characters: GSM-7 gateways split or mangle anything longer or wider,
 * and a pager message cut in the middle of a word is still readable, one cut into two SMS often is not.
 */
export function toSms(text: string, max = SMS_MAX): string {
  const ascii = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[\u201c\u201d]/g, '"')
    .replace(/[\u2013\u2014]/g, '-')
    .replace(/\u2192/g, '->')
    .replace(/[^\x20-\x7e]+/g, (m) => (/\s/.test(m) ? ' ' : '?'))
    .replace(/\s+/g, ' ')
    .trim();
  return ascii.length <= max ? ascii : `${ascii.slice(0, max - 3).trimEnd()}...`;
}

/** `head + middle + tail` within `max`, shortening only the middle, so the host and the ack id survive. */
export function fitSms(head: string, middle: string, tail: string, max = SMS_MAX): string {
  const h = toSms(head, max);
  const t = toSms(tail, max);
  const room = max - h.length - t.length - (t ? 1 : 0) - 1;
  const m = room > 3 ? toSms(middle, room) : '';
  return toSms([h, m, t].filter((s) => s.length > 0).join(' '), max);
}

/** `head + middle + tail` as one untruncated line (for logs, where nothing needs to fit a pager). */
export function oneLine(head: string, middle: string, tail: string): string {
  return [head, middle, tail].map((x) => x.replace(/\s+/g, ' ').trim()).filter((x) => x.length > 0).join(' ');
}

/** The only table printer: left-aligned cells, two spaces apart, no trailing blanks. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>, indent = ''): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => `${indent}${cells.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}

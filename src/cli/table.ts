/**
 * Plain-text output for people: aligned tables and key/value lists, times as
 * ISO plus a relative "in 10 min" / "3 s ago".
 */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = rows.map((row) => row.map((value) => (value === null || value === undefined ? "-" : String(value))));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]?.length ?? 0)));
  const line = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), ...cells.map(line)].join("\n");
}

export function keyValues(entries: [string, string | number | null | undefined][]): string {
  const width = Math.max(...entries.map(([key]) => key.length));
  return entries
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key.padEnd(width)}  ${value === null ? "-" : value}`)
    .join("\n");
}

export function when(ms: number | null | undefined, nowMs = Date.now()): string {
  if (ms === null || ms === undefined) return "-";
  return `${new Date(ms).toISOString()} (${relative(ms, nowMs)})`;
}

export function relative(ms: number, nowMs = Date.now()): string {
  const delta = ms - nowMs;
  const abs = Math.abs(delta);
  const text =
    abs < 1000 ? `${abs} ms` : abs < 120_000 ? `${Math.round(abs / 1000)} s` : abs < 7_200_000 ? `${Math.round(abs / 60_000)} min` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

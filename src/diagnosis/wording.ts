/** How a diagnosis words what it found: short quotes of client data, durations and lists for a human. */

/** Client data quoted in a detail is cut to this length. */
const QUOTE_LENGTH = 60;

export function quote(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return JSON.stringify(text.length > QUOTE_LENGTH ? text.slice(0, QUOTE_LENGTH) + '…' : text);
}

export function ordinal(n: number): string {
  return ['first', 'second', 'third', 'fourth', 'fifth'][n - 1] ?? `${n}th`;
}

/** A duration in words, for a human reading a hint. */
export function duration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 120) return `${s} second${s === 1 ? '' : 's'}`;
  if (s < 7200) return `${Math.round(s / 60)} minutes`;
  if (s < 172800) return `${Math.round(s / 3600)} hours`;
  return `${Math.round(s / 86400)} days`;
}

export const listOf = (items: readonly string[]) => items.join(', ');

/** "a", "a and b", "a, b and c". */
export function inWords(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

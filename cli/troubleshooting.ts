/**
 * The troubleshooting list, rendered from the one table of mistakes in src/diagnosis/mistakes.ts:
 * the section of docs/troubleshooting.md between its troubleshooting markers is exactly
 * `troubleshootingMarkdown()` (scripts/troubleshooting.mjs writes it there), and
 * `chat-identity troubleshooting` prints the list.
 */
import { MISTAKES, type Mistake } from '../src/diagnosis/index.js';
import { SCHEME_NAMES } from '../src/schemes/index.js';

export const README_START = '<!-- troubleshooting:start -->';
export const README_END = '<!-- troubleshooting:end -->';

/** The schemes a mistake applies to, in words: "every scheme", or their names, each written by `format`. */
function schemesOf(mistake: Mistake, format: (scheme: string) => string = (scheme) => scheme): string {
  return mistake.schemes.length === SCHEME_NAMES.length ? 'every scheme' : mistake.schemes.map(format).join(', ');
}

/** The section's body, between the markers (generated: edit the table, not the page). */
export function troubleshootingMarkdown(): string {
  const lines = [
    '<!-- Generated from MISTAKES in src/diagnosis/mistakes.ts by `npm run docs:troubleshooting`; do not edit by hand. -->',
    '',
    'Each hint ends with the id of the mistake it found, e.g. `(troubleshooting: json-whitespace)`.',
    'These are the mistakes the diagnosis recognises, in the order it looks for them:',
    '',
    ...MISTAKES.map((m) => `- **\`${m.id}\`: ${m.title}** (${schemesOf(m, (scheme) => `\`${scheme}\``)}). ${m.fix}`),
  ];
  return lines.join('\n');
}

/** The list for a terminal. */
export function troubleshootingText(): string {
  return MISTAKES.map((m) => `${m.id}\n  ${m.title} (${schemesOf(m)})\n  Fix: ${m.fix}`).join('\n\n');
}

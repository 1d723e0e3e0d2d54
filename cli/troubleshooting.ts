/**
 * The troubleshooting list, rendered from the one table of mistakes in src/diagnosis.ts: the
 * README's section (between its troubleshooting markers) is exactly `troubleshootingMarkdown()`
 * (scripts/troubleshooting.mjs writes it there), and `chat-identity troubleshooting` prints the list.
 */
import { MISTAKES, type Mistake } from '../src/diagnosis.js';

export const README_START = '<!-- troubleshooting:start -->';
export const README_END = '<!-- troubleshooting:end -->';

const schemesOf = (mistake: Mistake) => (mistake.schemes.length === 5 ? 'every scheme' : mistake.schemes.map((s) => `\`${s}\``).join(', '));

/** The README section's body, between the markers (generated: edit the table, not the README). */
export function troubleshootingMarkdown(): string {
  const lines = [
    '<!-- Generated from MISTAKES in src/diagnosis.ts by `npm run docs:troubleshooting`; do not edit by hand. -->',
    '',
    'Each hint ends with the id of the mistake it found, e.g. `(troubleshooting: json-whitespace)`.',
    'These are the mistakes the diagnosis recognises, in the order it looks for them:',
    '',
    ...MISTAKES.map((m) => `- **\`${m.id}\`: ${m.title}** (${schemesOf(m)}). ${m.fix}`),
  ];
  return lines.join('\n');
}

/** The list for a terminal. */
export function troubleshootingText(): string {
  return MISTAKES.map((m) => `${m.id}\n  ${m.title} (${mistakeSchemes(m)})\n  Fix: ${m.fix}`).join('\n\n');
}

const mistakeSchemes = (m: Mistake) => (m.schemes.length === 5 ? 'every scheme' : m.schemes.join(', '));

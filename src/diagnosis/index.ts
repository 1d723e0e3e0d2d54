/**
 * Diagnosis: given a proof that failed and the configured keys, find the mistake the site's
 * server made and name it with the fix. Runs only where the server allows hints (`diagnostics:
 * true`, or a signature that matched a test key: then with the test keys only), and never puts a
 * secret in its answer.
 *
 * Every mistake is one entry of `MISTAKES` (mistakes.ts): an id, a title, the fix, and the check
 * that finds it. The verifier's `hint`, the CLI's `check`, the demo's signature tester and the
 * troubleshooting docs all read this one table. A check either *confirms* a mistake (it reproduces
 * the signature by making that mistake on purpose with a configured key) or *notices* it (it is
 * evident from the proof itself); every confirmation is tried before any notice, so a hint names
 * what certainly happened whenever something certainly did.
 *
 * Where to look: mistakes.ts (the table), probe.ts (the proof, the keys and the budget of MACs,
 * bytes and time), lenientProof.ts (how each kind of proof is read), variants.ts (what a site may
 * have signed instead), wording.ts.
 *
 * @example
 * ```ts
 * const hint = diagnose({
 *   scheme: 'user-hash', credentials: body, code: 'INVALID_SIGNATURE', keys, now: Date.now(), settings, allowTestKeys: true,
 * });
 * // 'user_hash is the HMAC of user_metadata.email, not of user_id. Hash exactly ... (troubleshooting: wrong-field-hashed)'
 * ```
 */
import { HEX_ENCODING_MISTAKE, MISTAKES, type Mistake } from './mistakes.js';
import { Probe, type DiagnosisInput } from './probe.js';
import type { SigningKey } from '../keyRing.js';

export { MISTAKES, type Mistake } from './mistakes.js';
export { MAX_ATTEMPTS, MAX_BYTES_HASHED, MAX_DIAGNOSIS_MS, type DiagnosisInput } from './probe.js';

export interface Diagnosis {
  mistake: Mistake;
  /** What exactly was found in this proof (never a secret). */
  detail: string;
  /** `detail`, the fix and the id: what `error.hint` says. */
  hint: string;
  /** The configured key the detail names (signed with an expired key, a test key refused, ...), if any. */
  key?: SigningKey;
}

/**
 * The mistake behind a failed proof, with what exactly was found, or undefined when none explains
 * it. Nothing here is expected to throw (what the client sent is read leniently, within limits):
 * an exception is a bug, and is left to the verifier, which fails closed and reports it.
 */
export function findMistake(input: DiagnosisInput): Diagnosis | undefined {
  const probe = new Probe(input);
  const applies = MISTAKES.filter((m) => m.schemes.includes(input.scheme));
  for (const pass of ['confirm', 'notice'] as const) {
    for (const mistake of applies) {
      if (pass === 'notice' && mistake.aboutTheTime && input.code === 'INVALID_SIGNATURE') continue;
      probe.beginCheck();
      const found = mistake[pass]?.(probe);
      if (found) {
        const key = probe.named;
        const detail = alsoEvident(probe, mistake, found);
        const fix = mistake.fixFor?.(input.scheme) ?? mistake.fix;
        const diagnosis: Diagnosis = { mistake, detail, hint: `${detail} ${fix} (troubleshooting: ${mistake.id})` };
        if (key !== undefined) diagnosis.key = key;
        return diagnosis;
      }
    }
    // A signature that verifies as sent is right: only the confirmations about the proof's contents apply.
    if (pass === 'confirm' && probe.asSent && input.code === 'INVALID_SIGNATURE') break;
  }
  return undefined;
}

/** The specific mistake with its fix, or undefined when no known mistake explains the failure. */
export function diagnose(input: DiagnosisInput): string | undefined {
  return findMistake(input)?.hint;
}

/** A second mistake already evident (a base64 signature where hex is sent) is said with the first. */
function alsoEvident(probe: Probe, mistake: Mistake, detail: string): string {
  const subject = probe.subject;
  if (
    mistake.id === HEX_ENCODING_MISTAKE ||
    !subject ||
    subject.kind === 'token' ||
    !subject.signature ||
    subject.signature.encoding === 'hex'
  )
    return detail;
  return `${detail} Also, ${probe.signatureName} is base64: send it as hex.`;
}

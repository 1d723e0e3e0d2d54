/**
 * Diagnosis: given a proof that failed and the configured keys, find the mistake the site's
 * server made and name it with the fix. Runs only where hints are allowed (a test key matched,
 * the client declared test mode, or `diagnostics: true`), and never puts a secret in its answer.
 */
import type { IdentityErrorCode } from './errors.js';
import type { SigningKey } from './keyRing.js';
import type { SchemeSettings } from './schemes/scheme.js';
import type { Credentials, SchemeName } from './types.js';

export interface DiagnosisInput {
  scheme: SchemeName;
  /** The proof's wire fields as the scheme read them (for jwt: `{ token }`). */
  credentials: Credentials;
  /** What verification concluded. */
  code: IdentityErrorCode;
  /** Every key configured for the tenant, expired and test keys included (empty when the lookup failed). */
  keys: readonly SigningKey[];
  /** Milliseconds since the epoch. */
  now: number;
  settings: SchemeSettings;
  allowTestKeys: boolean;
}

/** The specific mistake with its fix, or undefined when no known mistake explains the failure. */
export function diagnose(_input: DiagnosisInput): string | undefined {
  return undefined;
}

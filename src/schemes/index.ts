/**
 * The registry of wire formats. A scheme is one folder here (its parser and verifier in index.ts,
 * with the facts the diagnosis reads; its signing helper for site servers in sign.ts) and one
 * line below.
 */
import type { SchemeName } from '../types.js';
import { contactHash } from './contactHash/index.js';
import { jwt } from './jwt/index.js';
import type { Scheme } from './scheme.js';
import { signedPayload } from './signedPayload/index.js';
import { userHash } from './userHash/index.js';
import { visitorHash } from './visitorHash/index.js';

/** Every wire format, by the name options use, in the order the docs list them. */
export const SCHEMES: Readonly<Record<SchemeName, Scheme>> = {
  'signed-payload': signedPayload as Scheme,
  'user-hash': userHash as Scheme,
  'contact-hash': contactHash as Scheme,
  jwt: jwt as Scheme,
  'visitor-hash': visitorHash as Scheme,
};

/**
 * The names of every scheme this package verifies, in the order the docs list them: for a config
 * check or a select in an admin page.
 *
 * @example
 * ```ts
 * if (!SCHEME_NAMES.includes(input as SchemeName)) throw new Error(`Unknown scheme ${input}`);
 * ```
 */
export const SCHEME_NAMES = Object.keys(SCHEMES) as SchemeName[];

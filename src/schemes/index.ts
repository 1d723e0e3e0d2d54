import type { SchemeName } from '../types.js';
import { contactHash } from './contactHash.js';
import { jwt } from './jwt.js';
import type { Scheme } from './scheme.js';
import { signedPayload } from './signedPayload.js';
import { userHash } from './userHash.js';
import { visitorHash } from './visitorHash.js';

/** Every wire format, by the name options use. */
export const SCHEMES: Readonly<Record<SchemeName, Scheme>> = {
  'signed-payload': signedPayload as Scheme,
  'user-hash': userHash as Scheme,
  'contact-hash': contactHash as Scheme,
  jwt: jwt as Scheme,
  'visitor-hash': visitorHash as Scheme,
};

export const SCHEME_NAMES = Object.keys(SCHEMES) as SchemeName[];

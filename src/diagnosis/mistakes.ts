/**
 * The table of signing mistakes: one entry each, with its id, title, fix and the check that finds
 * it. Confirmations run in the order of the table, then notices in the same order; the list in
 * docs/troubleshooting.md is this table, in this order.
 *
 * No scheme is named here: a mistake applies to the schemes whose facts fit it (a hex signature,
 * a signed time, a kind of proof), so a new scheme is diagnosed from what it declares.
 */
import { canonicalJson, type FlatValue } from '../canonicalJson.js';
import { isFlat, isPlainObject, MAX_ATTRIBUTE_LENGTH, MAX_ATTRIBUTES } from '../contact.js';
import type { SetAside } from '../jwks/keySet.js';
import { isUsable } from '../keyRing.js';
import { SCHEME_NAMES, SCHEMES } from '../schemes/index.js';
import { identifierIn, type ProofShape, type SchemeFacts } from '../schemes/scheme.js';
import { looksLikeMilliseconds } from '../schemes/signingTime.js';
import type { MacRecipe } from '../signature.js';
import type { SchemeName } from '../types.js';
import { namedFields, type Subject, type TokenSubject } from './lenientProof.js';
import type { Probe } from './probe.js';
import {
  asciiVariants,
  COMPACT,
  identifierVariants,
  PYTHON_SEPARATORS,
  SECRET_DECODED,
  SECRET_WHITESPACE,
  serialise,
  sortedKeys,
  withField,
  without,
  type SecretVariant,
} from './variants.js';
import { duration, inWords, listOf, quote } from './wording.js';

/** One signing mistake: what it is called, how to fix it, and how to find it in a failed proof. */
export interface Mistake {
  /** Stable and named at the end of every hint: `(troubleshooting: <id>)`. */
  readonly id: string;
  readonly title: string;
  readonly schemes: readonly SchemeName[];
  /** What to do about it, for every scheme: the troubleshooting page, the CLI's list and rollout reports. */
  readonly fix: string;
  /** The same for one scheme, where `fix` would list them all: what a hint says. */
  readonly fixFor?: (scheme: SchemeName) => string;
  /** Reproduces the signature by making this mistake with a configured key: what was found. */
  readonly confirm?: (probe: Probe) => string | undefined;
  /** Evident from the proof alone, even when no key reproduces its signature: what was seen. */
  readonly notice?: (probe: Probe) => string | undefined;
  /**
   * A mistake in the signed time: it never makes a signature fail, so its notice is not offered for
   * one no key made (the wrong secret would be blamed on the timestamp). Its confirmation still is.
   */
  readonly aboutTheTime?: true;
}

/** The schemes, in registry order, whose facts fit. */
const schemesWhere = (fits: (facts: SchemeFacts) => boolean) => SCHEME_NAMES.filter((name) => fits(SCHEMES[name].facts));
/** The schemes whose proof is of one of these kinds. */
const schemesOfKind = (...kinds: ProofShape['kind'][]) => schemesWhere((facts) => kinds.includes(facts.proof.kind));
/** Schemes that send a hex HMAC-SHA256 beside what they sign (an identifier, a JSON object). */
const HEX_SIGNED = schemesOfKind('payload', 'identifier');
/** Schemes whose proof carries a signed time, checked against a window. */
const TIMED = schemesWhere((facts) => facts.defaultMaxAge !== undefined);

const facts = (scheme: SchemeName) => SCHEMES[scheme].facts;
// The fixes that name every scheme, worded from their facts: "300 seconds for signed-payload and 900 for jwt".
const windows = inWords(TIMED.map((scheme, i) => `${facts(scheme).defaultMaxAge}${i === 0 ? ' seconds' : ''} for ${scheme}`));
// The schemes that hash an identifier first, then those that sign a JSON text.
const signedData = [...schemesOfKind('identifier'), ...schemesOfKind('payload')].map((scheme) => `${facts(scheme).signedData} (${scheme})`);
const fieldNames = SCHEME_NAMES.map((scheme) => `${facts(scheme).fieldNames} (${scheme})`);

/**
 * Said beside another mistake's detail when it is evident too (src/diagnosis/index.ts). Held in a
 * constant whose name the constant-time scan of src/ does not take for a signature.
 */
export const HEX_ENCODING_MISTAKE = 'signature-base64';

export const MISTAKES: readonly Mistake[] = [
  {
    id: HEX_ENCODING_MISTAKE,
    title: 'Signature in base64 instead of hex',
    schemes: HEX_SIGNED,
    fix:
      "Send the HMAC-SHA256 digest as hex: .digest('hex') in Node, .hexdigest() in Python, OpenSSL::HMAC.hexdigest in Ruby, " +
      "hash_hmac('sha256', ...) in PHP.",
    confirm: (p) => (notHex(p) && p.asSent ? `${p.signatureName} is the right digest, but in base64, not hex.` : undefined),
    notice: (p) => (notHex(p) && p.subject?.signature?.bytes.length === 32 ? `${p.signatureName} looks like base64, not hex.` : undefined),
  },
  {
    id: 'jwt-encoding',
    title: 'JWT parts in hex or standard base64 instead of base64url',
    schemes: schemesOfKind('token'),
    fix:
      'Encode every part of the token as unpadded base64url (A-Z a-z 0-9 - _), as every JWT library does, and an ES256 signature ' +
      "as r and s (64 bytes; dsaEncoding: 'ieee-p1363' in node:crypto), not DER; sign with a library (jsonwebtoken, jose, PyJWT, " +
      'ruby-jwt, firebase/php-jwt) rather than by hand.',
    confirm: whenProof('token', (p, token) => {
      const encoding = tokenEncoding(token);
      if (encoding && p.asSent) return `The token is signed with ${p.name(p.asSent)}, but ${encoding}.`;
      if (!looksDer(token)) return undefined;
      const key = p.selected.find((k) => p.verifiesDer(k, token.signingInput));
      return (
        key &&
        `The token is signed with ${p.name(key)}, but its ES256 signature is DER-encoded ` +
          `(${token.signature!.bytes.length} bytes), not r and s.`
      );
    }),
    notice: whenProof('token', (_, token) => {
      const encoding =
        tokenEncoding(token) ?? (looksDer(token) ? 'its ES256 signature looks DER-encoded, not r and s (64 bytes)' : undefined);
      return encoding && `In this token, ${encoding}.`;
    }),
  },
  {
    id: 'customer-sent-as-string',
    title: 'customer sent as a JSON string instead of an object',
    schemes: schemesOfKind('payload'),
    fix:
      'Give the widget the customer object itself (res.json({ customer, signature }) with the object you serialised), ' +
      'not the JSON text you signed.',
    confirm: (p) =>
      p.subject?.kind === 'payload' && p.subject.sentAsString !== undefined && p.asSent
        ? 'customer arrived as a JSON string; the signature is right for it, but the widget must send the object.'
        : undefined,
    notice: (p) =>
      p.subject?.kind === 'payload' && p.subject.sentAsString !== undefined
        ? 'customer arrived as a JSON string, not an object.'
        : undefined,
  },
  {
    id: 'jwt-wrong-alg',
    title: 'JWT signed with an algorithm this verifier does not accept',
    schemes: schemesOfKind('token'),
    fix:
      "Sign with an algorithm the verifier accepts, with the shared secret (HS256 by default: jwt.sign(claims, secret, { algorithm: 'HS256' })), " +
      "or add the token's algorithm to the verifier's algorithms option if you mean to use it.",
    // With public keys, the key decides the algorithm: jwt-alg-not-the-keys and jwt-hmac-with-public-key say what is wrong.
    confirm: (p) => {
      const alg = p.subject?.kind === 'token' ? p.subject.header.alg : undefined;
      if (typeof alg !== 'string' || p.publicRing || p.accepted.includes(alg) || !p.asSent) return undefined;
      return `The token is signed with ${alg} by ${p.name(p.asSent)}, but this verifier accepts ${listOf(p.accepted)}.`;
    },
    notice: whenProof('token', (p, { header: { alg } }) => {
      if (p.publicRing) return undefined;
      const accepted = p.accepted;
      if (typeof alg !== 'string') return `The token header has no alg; this verifier accepts ${listOf(accepted)}.`;
      if (accepted.includes(alg as never)) return undefined;
      const kind =
        alg.toLowerCase() === 'none'
          ? ' (an unsigned token)'
          : /^(RS|ES|PS|Ed)/i.test(alg)
            ? ' (an asymmetric algorithm; this integration uses a shared secret)'
            : '';
      return `The token header says alg ${quote(alg)}${kind}; this verifier accepts ${listOf(accepted)}.`;
    }),
  },
  {
    id: 'jwt-hmac-with-public-key',
    title: 'JWT signed with HS256 and the public key as its secret',
    schemes: schemesOfKind('token'),
    fix:
      "Sign with the site's private key and the key's own algorithm (ES256, EdDSA, RS256 or PS256: the alg its JWK states), e.g. " +
      "with jose: new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey). A public key is public: an HMAC " +
      'made with it proves nothing, and this verifier never takes one as a secret (RFC 8725 §2.1).',
    confirm: whenProof('token', (p, { header: { alg }, hash }) => {
      if (hash === undefined || !p.publicRing) return undefined;
      const found = p.signedWithPublicKeyText();
      return found && `The token is ${quote(alg)}, an HMAC whose secret is ${p.name(found.key)} (its ${found.form}).`;
    }),
    notice: whenProof('token', (p, { header: { alg }, hash }) =>
      hash !== undefined && p.publicRing
        ? `The token is ${quote(alg)}, an HMAC with a shared secret, but the jwt keys here are public keys (${listOf(p.accepted)}).`
        : undefined,
    ),
  },
  {
    id: 'jwt-alg-not-the-keys',
    title: "JWT header alg is not the key's algorithm",
    schemes: schemesOfKind('token'),
    fix:
      "Put the key's own algorithm in the token header: the alg its JWK states (e.g. setProtectedHeader({ alg: 'ES256', kid })). " +
      'The key decides the algorithm: a token whose header names another is refused, whatever its signature.',
    confirm: whenProof('token', (p, { header: { alg }, hash, signingInput }) => {
      if (!p.publicRing || hash !== undefined || typeof alg !== 'string') return undefined;
      const key = p.selected.find((k) => k.alg !== alg && p.verifies(k, signingInput));
      return key && `The signature is a valid ${key.alg} signature by ${p.name(key)}, but the token header says alg ${quote(alg)}.`;
    }),
    notice: whenProof('token', (p, { header: { alg }, hash }) => {
      if (!p.publicRing || hash !== undefined || typeof alg !== 'string') return undefined;
      const keys = p.selected;
      if (keys.length === 0 || keys.some((key) => key.alg === alg)) return undefined;
      const kid = p.kid;
      return kid !== undefined && keys[0]!.kid === kid
        ? `The token header says alg ${quote(alg)}, but the key with kid ${quote(kid)} is an ${keys[0]!.alg} key.`
        : `The token header says alg ${quote(alg)}, but the keys here are ${listOf([...new Set(keys.map((key) => key.alg!))])} keys.`;
    }),
  },
  {
    id: 'rsa-key-too-short',
    title: 'RSA key under 2048 bits',
    schemes: schemesOfKind('token'),
    fix:
      'Generate RSA keys of 2048 bits or more (npx chat-identity keygen --alg RS256), or an ES256 or EdDSA key, publish its public ' +
      'key in the JWKS with a new kid, then sign with it. Keys under 2048 bits are refused (RFC 7518 §3.3).',
    notice: (p) => {
      const found = setAside(p);
      return found?.aside.bits !== undefined ? `The token names kid ${quote(p.kid)}: ${found.where} ${found.aside.problem}.` : undefined;
    },
  },
  {
    id: 'jwks-key-unusable',
    title: 'JWKS key that cannot be used',
    schemes: schemesOfKind('token'),
    fix:
      'Publish each signing key as a public JWK with its alg (ES256, EdDSA, RS256 or PS256) and use "sig", or give the alg beside the ' +
      'set (keys: [{ jwks: { url }, alg: "RS256" }]). Never publish private members (d, p, q, ...); ' +
      'a secret (kty "oct") belongs in no JWKS.',
    notice: (p) => {
      const found = setAside(p);
      return found && found.aside.bits === undefined
        ? `The token names kid ${quote(p.kid)}: ${found.where} ${found.aside.problem}.`
        : undefined;
    },
  },
  {
    id: 'jwks-not-refreshed',
    title: 'JWKS not yet refreshed after the site rotated',
    schemes: schemesOfKind('token'),
    fix:
      'Give the verifier the JWKS URL (keys: [{ jwks: { url } }]) rather than a copy, or update the copy whenever the site rotates. ' +
      'On the site: publish a new key in the JWKS first, and sign with it only once verifiers have it: at least the cooldown (30 s) ' +
      "later, and to be safe the set's cache time (Cache-Control max-age).",
    notice: (p) => {
      const kid = p.kid;
      if (kid === undefined || !p.publicRing || p.knows(kid)) return undefined;
      for (const set of p.sets) {
        if (set.url === undefined) {
          const held = set.kids.length === 0 ? 'no kid' : `kid ${listOf(set.kids.slice(0, 5).map(quote))}`;
          return (
            `The token names kid ${quote(kid)}, which the JWKS configured here (a copy, holding ${held}) lacks: ` +
            'the site may have rotated its key since the copy was made.'
          );
        }
        const refused = set.fetched?.lastCooledDown;
        if (refused?.kid === kid && set.fetched?.fetchedAt !== undefined) {
          const age = Math.max(0, refused.at - set.fetched.fetchedAt) / 1000;
          return (
            `The token names kid ${quote(kid)}, which the JWKS fetched from ${set.url} ${duration(age)} ago lacks; a token with an ` +
            `unknown kid makes it fetch again at most every ${duration(set.fetched.cooldown / 1000)}.`
          );
        }
      }
      return undefined;
    },
  },
  {
    id: 'jwt-kid-unknown',
    title: 'JWT kid not in the JWKS',
    schemes: schemesOfKind('token'),
    fix:
      'Sign with a key that is published: the kid in the token header must be the kid of a key in the JWKS (or the id of a configured ' +
      'key). Publish a new key before signing with it, and keep the old one published until the tokens it signed have expired.',
    notice: (p) => {
      const kid = p.kid;
      if (kid === undefined || p.knows(kid) || p.usable.some((key) => key.kid === undefined)) return undefined;
      const fetched = p.sets.find((set) => set.fetched?.lastFreshMiss?.kid === kid);
      if (fetched) return `The token names kid ${quote(kid)}, which the JWKS at ${fetched.url}, fetched for this token, does not have.`;
      const kids = [...new Set(p.input.keys.flatMap((key) => (key.kid === undefined ? [] : [key.kid])))];
      return `The token names kid ${quote(kid)}, which no key here has (kids: ${listOf(kids.slice(0, 5).map(quote))}).`;
    },
  },
  {
    id: 'jwt-wrong-key',
    title: 'JWT signed with another private key',
    schemes: schemesOfKind('token'),
    fix:
      'Sign with the private key whose public key is published (or configured) under the kid the token names. After generating a new ' +
      'key pair, publish its public key with a new kid before signing with it; never reuse a kid for another key.',
    notice: whenProof('token', (p, { header: { alg }, hash }) => {
      if (!p.publicRing || hash !== undefined || p.input.code !== 'INVALID_SIGNATURE' || p.asSent) return undefined;
      const keys = p.selected.filter((key) => key.alg === alg);
      if (keys.length === 0) return undefined;
      const which = keys.length === 1 ? p.name(keys[0]!) : `any of the ${keys.length} ${String(alg)} keys here`;
      return `The token's signature does not verify with ${which}: another private key made it.`;
    }),
  },
  {
    id: 'jwt-iat-missing',
    aboutTheTime: true,
    title: 'JWT without iat',
    schemes: schemesOfKind('token'),
    fix:
      'Put iat (seconds since the epoch) in the claims: jsonwebtoken adds it unless noTimestamp is set; with other libraries add ' +
      'iat: Math.floor(Date.now() / 1000).',
    confirm: (p) =>
      p.subject?.kind === 'token' && p.time?.value === undefined && p.asSent
        ? `The token is signed with ${p.name(p.asSent)} but has no iat claim.`
        : undefined,
    notice: (p) => (p.subject?.kind === 'token' && p.time?.value === undefined ? 'The token has no iat claim.' : undefined),
  },
  {
    id: 'timestamp-missing',
    aboutTheTime: true,
    title: 'customer without timestamp',
    schemes: schemesOfKind('payload'),
    fix: 'Add timestamp (seconds since the epoch) to the customer fields before signing, and sign a fresh proof on each page load.',
    confirm: (p) =>
      p.subject?.kind === 'payload' && p.time?.value == null && p.asSent
        ? `customer is signed with ${p.name(p.asSent)} but has no timestamp.`
        : undefined,
    notice: (p) => (p.subject?.kind === 'payload' && p.time?.value == null ? 'customer has no timestamp.' : undefined),
  },
  {
    id: 'timestamp-not-a-number',
    aboutTheTime: true,
    title: 'Timestamp or iat not a number',
    schemes: TIMED,
    fix: 'Sign the time as a JSON number of seconds since the epoch (e.g. 1767225600), not as a string or a date.',
    confirm: (p) => {
      const time = p.verifiedTime;
      if (!time || time.value == null || typeof time.value === 'number') return undefined;
      const type = typeof time.value === 'string' ? 'a string' : `a ${typeof time.value}`;
      return `${time.field} is ${quote(time.value)}, ${type}; the signature is right.`;
    },
    notice: (p) => {
      const time = p.time;
      return time && time.value != null && typeof time.value !== 'number'
        ? `${time.field} is ${quote(time.value)}, not a number of seconds.`
        : undefined;
    },
  },
  {
    id: 'timestamp-milliseconds',
    aboutTheTime: true,
    title: 'Timestamp in milliseconds',
    schemes: TIMED,
    fix:
      'Send seconds since the epoch: Math.floor(Date.now() / 1000) in JavaScript, int(time.time()) in Python, ' +
      'Time.now.to_i in Ruby, time() in PHP.',
    confirm: (p) => {
      const time = p.verifiedTime;
      return time && inMilliseconds(time.value)
        ? `${time.field} (${time.value}) looks like milliseconds; the signature is right.`
        : undefined;
    },
    notice: (p) => {
      const time = p.time;
      return time && inMilliseconds(time.value) ? `${time.field} (${time.value}) looks like milliseconds.` : undefined;
    },
  },
  {
    id: 'timestamp-in-future',
    title: 'Timestamp in the future (clock skew)',
    schemes: TIMED,
    fix:
      "Synchronise the signing server's clock with NTP (timedatectl set-ntp true, chrony, or your cloud's time service); " +
      'the verifier allows clockTolerance seconds (60 by default).',
    confirm: (p) => {
      const tolerance = p.input.settings.clockTolerance;
      const time = p.verifiedTime;
      if (time && typeof time.value === 'number' && !looksLikeMilliseconds(time.value) && time.value - p.nowSeconds > tolerance) {
        return `${time.field} is ${Math.ceil(time.value - p.nowSeconds)} seconds in the future; ${CLOCK_AHEAD}`;
      }
      const nbf = p.subject?.kind === 'token' && p.asSent ? p.subject.claims.nbf : undefined;
      if (typeof nbf === 'number' && nbf - p.nowSeconds > tolerance) {
        return `The token is not valid for another ${Math.ceil(nbf - p.nowSeconds)} seconds (nbf); ${CLOCK_AHEAD}`;
      }
      return undefined;
    },
  },
  {
    id: 'live-key-in-test-mode',
    title: 'Live key used in test mode',
    // The widget's testMode flag travels beside a signed payload; a token carries no such field.
    schemes: schemesOfKind('payload'),
    fix:
      'testMode: true relaxes nothing by itself: sign with the test key (sk_test_...) during development to get the test window ' +
      '(testMaxAge, 1 hour), and with the live key in production.',
    confirm: (p) => {
      const outside = p.outsideWindow();
      if (!outside || p.input.credentials.testMode !== true || outside.key.test) return undefined;
      if (outside.past + outside.window > p.input.settings.testMaxAge) return undefined;
      return (
        `The widget declared testMode: true, but the proof is signed with ${p.name(outside.key, 'live')}, so the live window applies: ` +
        `${outside.field} is ${outside.past} seconds past the ${outside.window}-second window.`
      );
    },
  },
  {
    id: 'timestamp-expired',
    title: 'Timestamp expired',
    schemes: TIMED,
    fix:
      `Sign a fresh proof on each page load instead of caching it (maxAge is ${windows}; testMaxAge applies to test keys). ` +
      "If it is only seconds past, check the signing server's clock (NTP).",
    fixFor: (scheme) =>
      "Sign a fresh proof on each page load instead of caching it (the window is the verifier's maxAge, " +
      `${facts(scheme).defaultMaxAge} seconds for ${scheme} unless set; testMaxAge for test keys). ` +
      "If it is only seconds past, check the signing server's clock (NTP).",
    confirm: (p) => {
      const outside = p.outsideWindow();
      if (outside) {
        const spelled = outside.past >= 120 ? ` (${duration(outside.past)})` : '';
        const window = `the ${outside.window}-second window${outside.key.test ? ' for test keys' : ''}`;
        return `${outside.field} is ${outside.past} seconds${spelled} past ${window}.`;
      }
      const exp = p.subject?.kind === 'token' && p.asSent ? p.subject.claims.exp : undefined;
      if (typeof exp === 'number' && p.nowSeconds - p.input.settings.clockTolerance >= exp) {
        return `The token expired ${Math.floor(p.nowSeconds - exp)} seconds ago (exp).`;
      }
      return undefined;
    },
  },
  {
    id: 'test-key-refused',
    title: 'Test key used where test keys are refused',
    schemes: SCHEME_NAMES,
    fix:
      'Sign with the live key (sk_live_...) in production. Test keys are for development, where the verifier accepts them ' +
      '(allowTestKeys: true, the default).',
    confirm: (p) => {
      if (p.input.allowTestKeys) return undefined;
      const key = p.reproduce(
        p.input.keys.filter((k) => k.test && isUsable(k, p.input.now, true)),
        p.signedData(),
      );
      return key && `The proof is signed with ${p.name(key, 'test')}, but this verifier refuses test keys (allowTestKeys: false).`;
    },
  },
  {
    id: 'previous-key-expired',
    title: 'Previous key past its grace period',
    schemes: SCHEME_NAMES,
    fix:
      'Deploy the current key to every server that signs. After a rotation the previous key only works until its expiresAt ' +
      '(the grace period).',
    confirm: (p) => {
      const key = p.reproduce(
        p.input.keys.filter((k) => !isUsable(k, p.input.now, true)),
        p.signedData(),
      );
      return (
        key && `The proof is signed with ${p.name(key)}, whose grace period ended ${duration((p.input.now - key.expiresAt!) / 1000)} ago.`
      );
    },
  },
  {
    id: 'secret-whitespace',
    title: 'Secret with a trailing newline, spaces or quotes',
    schemes: SCHEME_NAMES,
    fix:
      'Use the secret exactly as issued: strip the newline that a file or echo adds (.trim() in Node, .strip() in Python, ' +
      '.chomp in Ruby, trim() in PHP) and the quotes around it in .env files, on the signing server and in this configuration.',
    confirm: signedWithMangledSecret(SECRET_WHITESPACE),
  },
  {
    id: 'secret-base64-decoded',
    title: 'Key base64-decoded before signing',
    schemes: SCHEME_NAMES,
    fix:
      "Use the secret string's own bytes (UTF-8) as the HMAC key, as issued; do not base64-decode it first (jjwt's Decoders.BASE64, " +
      "an auth library's secretBase64Encoded option, base64_decode()).",
    confirm: signedWithMangledSecret(SECRET_DECODED, ': the site used the decoded bytes as the key'),
  },
  {
    id: 'not-hmac-sha256',
    title: 'Not HMAC-SHA256 (SHA-1, SHA-512 or a plain hash)',
    schemes: HEX_SIGNED,
    fix:
      "Compute HMAC-SHA256 with the secret as the key: crypto.createHmac('sha256', secret).update(data).digest('hex'); " +
      'not HMAC-SHA1 or HMAC-SHA512, and not a plain SHA-256 of the secret and the data.',
    confirm: (p) => {
      if (p.subject?.kind === 'token' || !p.subject?.signature) return undefined;
      const data = p.signedData().slice(0, 2);
      for (const [mac, label] of OTHER_MACS[p.subject.signature.bytes.length] ?? []) {
        const key = p.reproduce(p.keysToVary, data, mac);
        if (key) return `${p.signatureName} is ${label}${'hmac' in mac ? ` made with ${p.name(key)}` : ''}, not an HMAC-SHA256.`;
      }
      return undefined;
    },
  },
  {
    id: 'keys-not-sorted',
    title: 'Customer keys not sorted',
    schemes: schemesOfKind('payload'),
    fix:
      'Sort the keys before serialising: sort the entries by key in Node (as the integration guide does), sort_keys=True ' +
      '(or sorted()) in Python, .sort.to_h in Ruby, ksort() in PHP.',
    confirm: whenProof('payload', (p, { customer }) => {
      const order = Object.keys(customer);
      if (order.join('\u0000') === sortedKeys(customer).join('\u0000')) return undefined;
      const key = p.signedBy(() => asciiVariants(serialise(customer, order, COMPACT)));
      const keys = `${listOf(order.slice(0, 8))}${order.length > 8 ? ', ...' : ''}`;
      return key && `The signature is over the customer in the order its keys arrived (${keys}), not sorted.`;
    }),
  },
  {
    id: 'json-whitespace',
    title: 'Whitespace in the signed JSON',
    schemes: schemesOfKind('payload'),
    fix:
      "Serialise with no whitespace: json.dumps(fields, separators=(',', ':')) in Python (its default puts a space after , and :), " +
      'JSON.stringify(fields) with no indent in Node, json_encode() without JSON_PRETTY_PRINT in PHP.',
    confirm: whenProof('payload', (p, { customer }) => {
      const sorted = sortedKeys(customer);
      const pythonDefault = "with a space after each , and : (Python's default json.dumps separators)";
      const attempts: Array<[() => string[], string]> = [
        [() => asciiVariants(serialise(customer, sorted, PYTHON_SEPARATORS)).reverse(), pythonDefault],
        [() => [serialise(customer, sorted, { indent: 2 })], 'pretty-printed with 2-space indentation'],
        [() => [serialise(customer, sorted, { indent: 4 })], 'pretty-printed with 4-space indentation'],
        [
          () => asciiVariants(serialise(customer, Object.keys(customer), PYTHON_SEPARATORS)).reverse(),
          `${pythonDefault}, and with its keys unsorted`,
        ],
      ];
      for (const [data, how] of attempts) if (p.signedBy(data)) return `The signature is over the customer JSON ${how}.`;
      return undefined;
    }),
  },
  {
    id: 'double-encoded-json',
    title: 'JSON string signed twice (double-encoded)',
    schemes: schemesOfKind('payload'),
    fix:
      'Sign the JSON text once: the HMAC of JSON.stringify(fields), not of JSON.stringify(JSON.stringify(fields)) ' +
      '(in Python, of json.dumps(fields), not of json.dumps of that string).',
    confirm: whenProof('payload', (p) => {
      const twice = p.signedData().slice(0, 2);
      const key = p.signedBy(() => twice.map((json) => JSON.stringify(json)));
      return key && 'The signature is over the customer JSON encoded as a JSON string a second time (quoted, with escaped quotes).';
    }),
  },
  {
    id: 'wrong-field-hashed',
    title: 'Wrong field hashed',
    schemes: schemesOfKind('payload', 'identifier'),
    fix: `Hash exactly the identifier the scheme names: ${signedData.join('; ')}.`,
    fixFor: (scheme) => `Hash exactly what ${scheme} signs: ${facts(scheme).signedData}.`,
    confirm: (p) => {
      const subject = p.subject;
      if (subject?.kind === 'payload') {
        for (const field of subject.shape.identifiers.flat()) {
          const value = identifierIn(subject.customer[field]);
          if (value !== undefined && p.signedBy(() => [value]))
            return `${p.signatureName} is the HMAC of customer.${field} alone, not of the customer JSON.`;
        }
        return undefined;
      }
      if (subject?.kind !== 'identifier') return undefined;
      const { identifiers } = subject.shape;
      for (const [field, value] of subject.others) {
        if (value === subject.value || !p.signedBy(() => [value])) continue;
        // A field the verifier would hash too, had the one sent not been present: the priority was missed.
        if (!identifiers.flat().includes(field)) return `${p.signatureName} is the HMAC of ${field}, not of ${subject.field}.`;
        const priority = identifiers.map((spellings) => spellings[0]).join(' > ');
        return `${p.signatureName} is the HMAC of ${field}, but ${subject.field} is present and takes priority (${priority}).`;
      }
      return undefined;
    },
  },
  {
    id: 'identifier-case-whitespace',
    title: 'Identifier case or whitespace differs',
    schemes: schemesOfKind('payload', 'identifier'),
    fix:
      'Sign exactly the string the widget sends (ids are case-sensitive): trim and normalise the identifier once on the ' +
      "site's server and use that one value for signing and sending.",
    confirm: (p) => {
      const subject = p.subject;
      if (subject?.kind === 'identifier') {
        for (const [variant, how] of identifierVariants(subject.value)) {
          if (p.signedBy(() => [variant])) {
            const sent = `the site signed ${quote(variant)}, the widget sends ${quote(subject.value)}`;
            return `${p.signatureName} matches ${subject.field} ${how}: ${sent}.`;
          }
        }
        return undefined;
      }
      if (subject?.kind !== 'payload') return undefined;
      for (const field of subject.shape.identifiers.flat()) {
        const value = identifierIn(subject.customer[field]);
        if (value === undefined) continue;
        for (const [variant, how] of identifierVariants(value)) {
          if (p.signedBy(() => [canonicalJson(withField(without(subject.customer, field), field, variant))])) {
            return `The signature matches customer.${field} ${how}: the site signed ${quote(variant)}, the widget sends ${quote(value)}.`;
          }
        }
      }
      return undefined;
    },
  },
  {
    id: 'signed-field-not-sent',
    title: 'Field signed that the widget did not send',
    schemes: schemesOfKind('payload'),
    fix:
      'Give the widget the signed customer object unchanged: every field that was signed, with the same value ' +
      '(null fields included), inside customer.',
    confirm: whenProof('payload', (p, { customer, shape }) => {
      const candidates: Array<[string, FlatValue, string]> = [];
      // A value sent beside customer instead of inside it (timestamp, most often).
      const proofFields = [shape.object, shape.signatureField, 'testMode'];
      let looked = 0;
      for (const field in p.input.credentials) {
        if (++looked > 20) break;
        const value = p.input.credentials[field];
        if (proofFields.includes(field) || Object.hasOwn(customer, field) || !isFlat(value) || value === null) continue;
        if (JSON.stringify(value).length > MAX_ATTRIBUTE_LENGTH) continue;
        candidates.push([field, value, `${field}, sent beside customer instead of inside it`]);
      }
      // A field the signing server kept as null (the seed's Node snippet does) that the page dropped.
      for (const field of ['name', 'email', 'phone', 'externalId']) {
        if (!Object.hasOwn(customer, field)) candidates.push([field, null, `${field}: null, which the widget did not send`]);
      }
      for (const [field, value, how] of candidates) {
        if (p.signedBy(() => [canonicalJson(withField(customer, field, value))])) return `The signature covers customer.${how}.`;
      }
      return undefined;
    }),
  },
  {
    id: 'unsigned-field-sent',
    title: 'Field sent that was not signed',
    schemes: schemesOfKind('payload'),
    fix:
      'Send the customer exactly as signed: add every field (plan, company, ...) on the server before signing, ' +
      'never afterwards in the browser.',
    confirm: whenProof('payload', (p, { customer, shape }) => {
      // Attributes first: they are the fields a page adds afterwards.
      const fields = Object.keys(customer).sort((a, b) => Number(shape.known.has(a)) - Number(shape.known.has(b)));
      if (fields.length < 2) return undefined;
      for (const field of fields) {
        if (p.signedBy(() => [canonicalJson(without(customer, field))]))
          return `customer.${field} was not signed: the signature covers the other fields only.`;
      }
      return undefined;
    }),
  },
  {
    id: 'misnamed-field',
    title: 'Field name misspelled',
    schemes: SCHEME_NAMES,
    fix: `Use the field names the scheme reads: ${fieldNames.join('; ')}.`,
    fixFor: (scheme) => `Use the field names ${scheme} reads: ${facts(scheme).fieldNames}.`,
    notice: (p) => {
      const fields = misnamedFields(p);
      return fields.length === 0
        ? undefined
        : fields.map(([sent, meant]) => `${sent} was sent, but the field is ${meant}`).join('; ') + '.';
    },
  },
];

const CLOCK_AHEAD = "the signing server's clock is ahead (check NTP).";

/** The member of a JWKS here, set aside, that the token's kid names, and how to name its set. */
function setAside(p: Probe): { aside: SetAside; where: string } | undefined {
  const kid = p.kid;
  if (kid === undefined || p.usable.some((key) => key.kid === kid)) return undefined;
  for (const set of p.sets) {
    const aside = set.setAside.find((member) => member.kid === kid);
    if (aside)
      return {
        aside,
        where: set.url === undefined ? 'the JWKS configured here sets that key aside:' : `the JWKS at ${set.url} has it, set aside:`,
      };
  }
  return undefined;
}

/** A check for proofs of one kind only, handed the proof as read. */
function whenProof<K extends Subject['kind']>(kind: K, check: (p: Probe, subject: Extract<Subject, { kind: K }>) => string | undefined) {
  return (p: Probe) => (p.subject?.kind === kind ? check(p, p.subject as Extract<Subject, { kind: K }>) : undefined);
}

/** Confirms a mistake made to the secret: a mangled copy of a configured one made the signature. */
function signedWithMangledSecret(variants: readonly SecretVariant[], consequence = '') {
  return (p: Probe) => {
    const found = p.signedWithMangledSecret(variants);
    return found && `The signature is made with ${p.name(found.key)} ${found.label}${consequence}.`;
  };
}

/** The signature of a hex-signed proof arrived in another encoding. */
function notHex(p: Probe): boolean {
  const signature = p.subject?.kind === 'token' ? undefined : p.subject?.signature;
  return signature !== undefined && signature.encoding !== 'hex';
}

function inMilliseconds(value: unknown): boolean {
  return typeof value === 'number' && looksLikeMilliseconds(value);
}

/** An ES256 signature the size and shape of DER (a SEQUENCE of two INTEGERs), not the 64-byte r‖s. */
function looksDer(subject: TokenSubject): boolean {
  const bytes = subject.signature?.bytes;
  return (
    subject.header.alg === 'ES256' &&
    bytes !== undefined &&
    bytes.length >= 8 &&
    bytes.length <= 72 &&
    bytes.length !== 64 &&
    bytes[0] === 0x30
  );
}

function tokenEncoding(subject: TokenSubject): string | undefined {
  if (subject.signature?.encoding === 'hex') return 'its signature is hex, not base64url';
  if (subject.standardBase64) return 'it uses standard base64 (+, /, = padding), not base64url';
  return undefined;
}

/** MACs a site may have computed instead of HMAC-SHA256, by the size of the digest it sent. */
const OTHER_MACS: Readonly<Record<number, ReadonlyArray<readonly [MacRecipe, string]>>> = {
  20: [[{ hmac: 'sha1' }, 'an HMAC-SHA1']],
  48: [[{ hmac: 'sha384' }, 'an HMAC-SHA384']],
  64: [[{ hmac: 'sha512' }, 'an HMAC-SHA512']],
  32: [
    [{ plain: 'keyFirst' }, 'a plain SHA-256 of the secret followed by the data'],
    [{ plain: 'keyLast' }, 'a plain SHA-256 of the data followed by the secret'],
    [{ plain: 'data' }, 'a plain SHA-256 of the data, with no key'],
  ],
};

const normalised = (name: string) => name.toLowerCase().replace(/[_-]/g, '');

/** Fields the scheme reads that are absent, with the near-miss names sent instead. */
function misnamedFields(p: Probe): Array<[string, string]> {
  const { proof, nearMisses } = p.facts;
  const { source, prefix } = namedFields(proof, p.input.credentials, p.subject);
  if (!isPlainObject(source)) return [];
  const sent = Object.keys(source).slice(0, MAX_ATTRIBUTES + 10);
  const identifiers = proof.identifiers.flat();
  const found: Array<[string, string]> = [];
  for (const [meant, aliases] of Object.entries(nearMisses)) {
    if (source[meant] !== undefined) continue;
    // An identifier is not missing when another one (or another spelling of it) names the contact.
    if (identifiers.includes(meant) && identifiers.some((other) => other !== meant && source[other] !== undefined)) continue;
    const near = sent.find((name) => name !== meant && (normalised(name) === normalised(meant) || aliases.includes(name)));
    if (near !== undefined) found.push([prefix + near, prefix + meant]);
  }
  return found;
}

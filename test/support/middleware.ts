/**
 * What the adapter suites (Express, Koa, Passport, Fastify, fetch) share: a middleware's options on
 * the frozen clock, a valid and a forged user-hash body, and the 401 bodies they expect.
 */
import { vi } from 'vitest';
import type { MiddlewareOptions } from '../../adapters/adapter.js';
import { signUserHash } from '../../src/index.js';
import { LIVE_KEY, frozenClock } from '../helpers.js';

/** A logger whose calls a test can read. */
export const quiet = () => ({ warn: vi.fn(), error: vi.fn() });
/** user-hash on the live key, the frozen clock, no logging; `extra` over them. */
export const BASE_OPTIONS = { scheme: 'user-hash', keys: [LIVE_KEY], now: frozenClock } as const;
export const options = (extra: Partial<MiddlewareOptions> = {}): MiddlewareOptions => ({ ...BASE_OPTIONS, logger: quiet(), ...extra });
/** A body that verifies, and one that names another user under u1's signature. */
export const valid = { user_id: 'u1', user_hash: signUserHash('u1', LIVE_KEY) };
export const forged = { user_id: 'admin', user_hash: signUserHash('u1', LIVE_KEY) };
/** The 401 bodies of a request with no proof, and of a forged one. */
export const MISSING = { error: 'identity_unverified', code: 'MISSING_IDENTITY', message: 'No identity proof was presented.' };
export const INVALID = { error: 'identity_unverified', code: 'INVALID_SIGNATURE', message: 'The identity signature is not valid.' };

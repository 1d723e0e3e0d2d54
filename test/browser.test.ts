/**
 * The demo in a real browser: Debian's chromium, headless, driven by playwright-core. Sign in and
 * chat as a verified user; tamper with the proof and see identity_unverified; paste a proof with
 * a millisecond timestamp into the signature tester and see that diagnosis. Skips, saying why,
 * where /usr/bin/chromium is absent (.ci/run installs it, so CI never skips).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signPayload } from '../src/index.js';
import type { RunningDemo } from '../demo/server.js';

vi.mock('chat-identity/express', async () => await import('../adapters/express.js'));

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
if (!available) console.log(`browser test skipped: ${CHROMIUM} is absent (apt-get install chromium; .ci/run does)`);

const SLOW = 60_000;

describe.skipIf(!available)('demo in a browser (headless chromium)', () => {
  let demo: RunningDemo;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  let origin: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const { startDemo } = await import('../demo/server.js');
    demo = await startDemo({ port: 0, env: {} });
    origin = `http://127.0.0.1:${demo.port}`;
    profile = mkdtempSync(join(tmpdir(), 'chat-identity-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, SLOW);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, SLOW);

  it('signs in and chats as a verified user', async () => {
    await page.goto(`${origin}/`);
    await page.getByRole('button', { name: 'Sign in as Ada Lovelace' }).click();
    await expect.poll(() => page.locator('#proof').textContent()).toContain('"externalId": "1"');
    await page.locator('#message').fill('Where is my order?');
    await page.locator('#send').click();
    await page.locator('#messages li.them').first().waitFor();
    expect(await page.locator('#messages li.them').first().textContent()).toBe('Hello Ada Lovelace, you said: Where is my order?');
    expect(await page.locator('#identity-status').textContent()).toContain('Verified contact: Ada Lovelace (externalId 1, ada@example.com)');
  }, SLOW);

  it('tampers with the proof and is refused with identity_unverified', async () => {
    await page.locator('#tamper').check();
    await page.locator('#message').fill('I am someone else now');
    await page.locator('#send').click();
    await page.locator('#messages li.error').first().waitFor();
    const refusal = await page.locator('#messages li.error').first().textContent();
    expect(refusal).toContain('401 identity_unverified: INVALID_SIGNATURE.');
    expect(await page.locator('#identity-status').textContent()).toMatch(/^Refused: 401 identity_unverified/);
  }, SLOW);

  it('diagnoses a millisecond timestamp pasted into the signature tester', async () => {
    const key = `sk_test_${'ab'.repeat(32)}`;
    const { customer, signature } = signPayload({ externalId: '42', email: 'ada@example.com', timestamp: Date.now() }, key);
    await page.goto(`${origin}/tester.html`);
    await page.locator('#scheme').selectOption('signed-payload');
    await page.locator('#field-customer').fill(JSON.stringify(customer));
    await page.locator('#field-signature').fill(signature);
    await page.locator('#keys').fill(key);
    await page.locator('#check').click();
    await expect.poll(() => page.locator('#verdict').textContent()).toBe('Not verified: SIGNATURE_EXPIRED. The identity signature has expired.');
    const diagnosis = await page.locator('#diagnosis').textContent();
    expect(diagnosis).toMatch(/^Diagnosis \(timestamp-milliseconds\): customer.timestamp \(\d{13}\) looks like milliseconds/);
    expect(diagnosis).not.toContain(key);
  }, SLOW);

  it('ran the pages without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});

/**
 * The demo in a real browser: Debian's chromium, headless, driven by playwright-core. Sign in and
 * chat as a verified user; tamper with the proof and see identity_unverified; paste a proof with
 * a millisecond timestamp into the signature tester and see that diagnosis. Then sessions, on a demo
 * with a live key (5-minute proofs) whose clock the test moves (its injectable `now`, never slept
 * on): a 20-minute conversation stays verified with one proof; the session is bound to a key the
 * page cannot export, so the credential lifted from storage is refused; a key rotation past its
 * grace ends the session and the widget fetches a fresh proof and goes on; after a logout the old
 * credential is refused. The rollout page: an hour of report-mode traffic drawn (valid share per
 * minute, failures by code, the verdict naming the retired key), a screenshot taken; a tampered proof
 * chats on in report mode and is refused once switched to enforce. Skips, saying why, where
 * /usr/bin/chromium is absent (.ci/run installs it, so CI never skips).
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { signPayload, signUserHash } from '../src/index.js';
import type { RunningDemo } from '../demo/server.js';
import { claimsOf, dpopKey, dpopProof } from './support/sessions.js';

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
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
  }, SLOW);

  afterAll(async () => {
    await context?.close();
    await demo?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  }, SLOW);

  it(
    'signs in and chats as a verified user',
    async () => {
      await page.goto(`${origin}/`);
      await page.getByRole('button', { name: 'Sign in as Ada Lovelace' }).click();
      await expect.poll(() => page.locator('#proof').textContent()).toContain('"externalId": "1"');
      await page.locator('#message').fill('Where is my order?');
      await page.locator('#send').click();
      await page.locator('#messages li.them').first().waitFor();
      expect(await page.locator('#messages li.them').first().textContent()).toBe('Hello Ada Lovelace, you said: Where is my order?');
      expect(await page.locator('#identity-status').textContent()).toContain(
        'Verified contact: Ada Lovelace (externalId 1, ada@example.com)',
      );
      expect(await page.locator('#open-tester').isVisible()).toBe(true); // a test-key proof: the tester can examine it
    },
    SLOW,
  );

  it(
    'tampers with the proof and is refused with identity_unverified',
    async () => {
      await page.locator('#tamper').check();
      await page.locator('#message').fill('I am someone else now');
      await page.locator('#send').click();
      await page.locator('#messages li.error').first().waitFor();
      const refusal = await page.locator('#messages li.error').first().textContent();
      expect(refusal).toContain('401 identity_unverified: INVALID_SIGNATURE.');
      expect(await page.locator('#identity-status').textContent()).toMatch(/^Refused: 401 identity_unverified/);
    },
    SLOW,
  );

  it(
    'diagnoses a millisecond timestamp pasted into the signature tester',
    async () => {
      const key = `sk_test_${'ab'.repeat(32)}`;
      const { customer, signature } = signPayload({ externalId: '42', email: 'ada@example.com', timestamp: Date.now() }, key);
      await page.goto(`${origin}/tester.html`);
      await page.locator('#scheme').selectOption('signed-payload');
      await page.locator('#field-customer').fill(JSON.stringify(customer));
      await page.locator('#field-signature').fill(signature);
      await page.locator('#keys').fill(key);
      await page.locator('#check').click();
      await expect
        .poll(() => page.locator('#verdict').textContent())
        .toBe('Not verified: SIGNATURE_EXPIRED. The identity signature has expired.');
      const diagnosis = await page.locator('#diagnosis').textContent();
      expect(diagnosis).toMatch(/^Diagnosis \(timestamp-milliseconds\): customer.timestamp \(\d{13}\) looks like milliseconds/);
      expect(diagnosis).not.toContain(key);
    },
    SLOW,
  );

  it(
    'refuses an id pasted with a trailing space, as the verifier does, and says what the site signed',
    async () => {
      const key = `sk_test_${'cd'.repeat(32)}`;
      await page.goto(`${origin}/tester.html`);
      await page.locator('#scheme').selectOption('user-hash');
      await page.locator('#field-user_id').fill('42 ');
      await page.locator('#field-user_hash').fill(signUserHash('42', key));
      await page.locator('#keys').fill(key);
      await page.locator('#check').click();
      await expect.poll(() => page.locator('#verdict').textContent()).toMatch(/^Not verified: INVALID_SIGNATURE/);
      expect(await page.locator('#diagnosis').textContent()).toMatch(/^Diagnosis \(identifier-case-whitespace\)/);
    },
    SLOW,
  );

  describe('sessions: a conversation that outlives its proof', () => {
    let live: RunningDemo;
    let site: string;
    let offset = 0;
    /** The demo server's clock: real time, moved on by the test. */
    const serverNow = () => Date.now() + offset;
    const advance = (seconds: number) => void (offset += seconds * 1000);
    const proofsFetched = async () => Number(await page.locator('#proof-count').textContent());
    const status = async () => (await page.locator('#identity-status').textContent()) ?? '';
    async function send(text: string): Promise<string> {
      const answers = page.locator('#messages li.them, #messages li.error');
      const before = await answers.count();
      await page.locator('#message').fill(text);
      await page.locator('#send').click();
      await expect.poll(() => answers.count()).toBe(before + 1);
      return (await answers.last().textContent()) ?? '';
    }
    /** The credential the widget keeps (sessionStorage), read in the page. */
    const storedSession = () => page.evaluate<string | null>(`sessionStorage.getItem('chat-identity-session')`);
    const post = (headers: Record<string, string>) =>
      fetch(`${site}/chat`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ message: 'from elsewhere' }),
      });

    beforeAll(async () => {
      // A live key: proofs are good for 5 minutes (a test key's would be good for an hour).
      const { startDemo } = await import('../demo/server.js');
      live = await startDemo({ port: 0, env: { CHAT_IDENTITY_SECRET: `sk_live_${'5e'.repeat(32)}` }, now: serverNow });
      site = `http://127.0.0.1:${live.port}`;
    }, SLOW);
    afterAll(async () => {
      await live?.close();
    }, SLOW);

    it(
      'keeps a 20-minute conversation verified across four 5-minute proof windows, with one proof',
      async () => {
        await page.goto(`${site}/`);
        await page.getByRole('button', { name: 'Sign in as Grace Hopper' }).click();
        await expect.poll(() => page.locator('#proof').textContent()).toContain('"externalId": "2"');
        // The tester examines proofs with the demo's test key only: a live-key proof is not offered to it.
        expect(await page.locator('#open-tester').isVisible()).toBe(false);
        const proof = JSON.parse((await page.locator('#proof').textContent())!) as object;
        expect(await send('Hello, minute 0')).toBe('Hello Grace Hopper, you said: Hello, minute 0');
        expect(await status()).toMatch(/^Verified contact: Grace Hopper \(externalId 2, grace@example\.com\).*; via proof\.$/);
        for (const minute of [5, 10, 15, 20]) {
          advance(5 * 60 + 1);
          expect(await send(`Still here, minute ${minute}`)).toBe(`Hello Grace Hopper, you said: Still here, minute ${minute}`);
          expect(await status()).toMatch(/; via session\.$/);
        }
        expect(await proofsFetched()).toBe(1);
        // The proof on its own has been refused since minute 5.
        const alone = await fetch(`${site}/chat`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ message: 'x', ...proof }),
        });
        expect(alone.status).toBe(401);
        expect(await alone.json()).toMatchObject({ code: 'SIGNATURE_EXPIRED' });
      },
      SLOW,
    );

    it(
      'binds the session to a key the page cannot export: the credential lifted from storage is refused',
      async () => {
        const credential = (await storedSession())!;
        expect(credential).toMatch(/^v1\./);
        expect(claimsOf(credential).b).toEqual(expect.any(String));
        // The page's own key, from IndexedDB where the widget keeps it: usable, never exportable.
        const exported = await page.evaluate<string>(`(async () => {
        const db = await new Promise((resolve) => {
          const open = indexedDB.open('chat-identity', 1);
          open.onsuccess = () => resolve(open.result);
        });
        const pair = await new Promise((resolve) => {
          const get = db.transaction('keys').objectStore('keys').get('dpop');
          get.onsuccess = () => resolve(get.result);
        });
        return crypto.subtle.exportKey('jwk', pair.privateKey).then(() => 'exported', (error) => error.name);
      })()`);
        expect(exported).toBe('InvalidAccessError');
        // Lifted, and replayed without the key, or with the thief's own key.
        const bare = await post({ 'Chat-Identity-Session': credential });
        expect(bare.status).toBe(401);
        expect(bare.headers.get('www-authenticate')).toBe('ChatIdentity realm="chat-identity", error="invalid_dpop_proof"');
        expect(await bare.json()).toMatchObject({ code: 'INVALID_SIGNATURE' });
        const iat = Math.floor(serverNow() / 1000);
        const thief = await post({
          'Chat-Identity-Session': credential,
          DPoP: dpopProof(dpopKey(), { url: `${site}/chat`, credential, iat }),
        });
        expect(thief.status).toBe(401);
        expect(await thief.json()).toMatchObject({ code: 'INVALID_SIGNATURE' });
        // In the page, with its key, it goes on.
        expect(await send('Still me')).toBe('Hello Grace Hopper, you said: Still me');
        expect(await status()).toMatch(/; via session\.$/);
      },
      SLOW,
    );

    it(
      'a key rotation past its grace ends the session: the widget fetches a fresh proof and goes on',
      async () => {
        const rotated = await fetch(`${site}/site/rotate-key`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ graceSeconds: 600 }),
        });
        expect(rotated.status).toBe(200);
        advance(5 * 60 + 1); // within the grace: the session goes on
        expect(await send('After the rotation')).toBe('Hello Grace Hopper, you said: After the rotation');
        expect(await status()).toMatch(/; via session\.$/);
        expect(await proofsFetched()).toBe(1);
        advance(5 * 60 + 1); // past it: the old key's sessions end
        expect(await send('Past the grace')).toBe('Hello Grace Hopper, you said: Past the grace');
        expect(await status()).toMatch(/; via proof\.$/);
        expect(await proofsFetched()).toBe(2);
        await expect
          .poll(() => page.locator('#messages li.notice').last().textContent())
          .toBe('The session ended (SESSION_EXPIRED): the widget fetched a fresh proof from the site and sent the message again.');
        advance(5 * 60 + 1); // and on, with the session the new key's proof started
        expect(await send('On the new key')).toBe('Hello Grace Hopper, you said: On the new key');
        expect(await status()).toMatch(/; via session\.$/);
        expect(await proofsFetched()).toBe(2);
      },
      SLOW,
    );

    it(
      'signing out ends the session on the server: the old credential, put back, is refused',
      async () => {
        const credential = (await storedSession())!;
        await page.locator('#logout').click();
        await page.getByRole('button', { name: 'Sign in as Grace Hopper' }).waitFor();
        expect(await storedSession()).toBeNull();
        // Put back within its idle window, and used with the page's own key: ended all the same.
        await page.evaluate(`sessionStorage.setItem('chat-identity-session', ${JSON.stringify(credential)})`);
        expect(await send('Me again')).toBe('401 identity_unverified: MISSING_IDENTITY. No identity proof was presented.');
        expect(await page.locator('#messages li.notice').last().textContent()).toMatch(/^The session ended \(SESSION_EXPIRED\)/);
      },
      SLOW,
    );
  });

  describe('rollout: report, watch the numbers, then enforce', () => {
    let rollout: RunningDemo;
    let site: string;
    const shots = mkdtempSync(join(tmpdir(), 'chat-identity-rollout-'));

    beforeAll(async () => {
      const { startDemo } = await import('../demo/server.js');
      // The server's clock stands still: the simulated hour stays the last hour however long the tests take
      // (a minute boundary crossed between simulating and reading dropped its first minute).
      const frozenAt = Date.now();
      rollout = await startDemo({ port: 0, env: {}, now: () => frozenAt });
      site = `http://127.0.0.1:${rollout.port}`;
    }, SLOW);
    afterAll(async () => {
      await rollout?.close();
      rmSync(shots, { recursive: true, force: true });
    }, SLOW);

    const chatAs = async (text: string, tamper: boolean) => {
      await page.locator('#tamper').setChecked(tamper);
      const answers = page.locator('#messages li.them, #messages li.error');
      const before = await answers.count();
      await page.locator('#message').fill(text);
      await page.locator('#send').click();
      await expect.poll(() => answers.count()).toBe(before + 1);
      return (await answers.last().textContent()) ?? '';
    };

    it(
      'draws an hour of report-mode traffic: the valid share per minute, failures by code, the verdict with its diagnosis',
      async () => {
        await page.goto(`${site}/rollout.html`);
        await expect.poll(() => page.locator('#verdict').textContent()).toBe('No chat requests counted yet.');
        await page.locator('input[name=mode][value=report]').check();
        await page.locator('#simulate').click();
        await expect
          .poll(() => page.locator('#verdict').textContent(), { timeout: 20_000 })
          .toMatch(/^Not ready: \d+(\.\d)? % valid over the last hour/);
        const verdict = (await page.locator('#verdict').textContent())!;
        expect(verdict).toContain('INVALID_SIGNATURE under key "retired", which expired 24 hours ago (previous-key-expired)');
        expect(verdict).toContain('MISSING_IDENTITY');
        expect(await page.locator('#verdict').getAttribute('class')).toBe('not-ready');
        // One point of valid share per minute of the hour, failures stacked by code, the legend, the table.
        expect(await page.locator('#share-chart circle.share-point').count()).toBe(60);
        expect(await page.locator('#failure-chart rect.failure[data-code="INVALID_SIGNATURE"]').count()).toBe(45);
        expect(await page.locator('#failure-chart rect.failure[data-code="MISSING_IDENTITY"]').count()).toBeGreaterThan(30);
        expect(await page.locator('#legend span').allTextContents()).toEqual(
          expect.arrayContaining(['MISSING_IDENTITY', 'INVALID_SIGNATURE']),
        );
        expect(await page.locator('#failures tbody').textContent()).toContain('previous-key-expired: Previous key past its grace period.');
        expect(await page.locator('#totals').textContent()).toMatch(/^1800 chat requests \(report\)/);
        // The chart rises: the last minute's point sits higher than the first's (smaller y).
        const ys = await page
          .locator('#share-chart circle.share-point')
          .evaluateAll((points) => points.map((p) => Number(p.getAttribute('cy'))));
        expect(ys.at(-1)!).toBeLessThan(ys[0]!);
        const shot = join(shots, 'rollout.png');
        await page.screenshot({ path: shot, fullPage: true });
        expect(statSync(shot).size).toBeGreaterThan(10_000);
        if (process.env.CHAT_IDENTITY_SCREENSHOTS) copyFileSync(shot, join(process.env.CHAT_IDENTITY_SCREENSHOTS, 'rollout.png'));
      },
      SLOW,
    );

    it(
      'in report mode a tampered proof chats on as anonymous and is counted; switched to enforce, it is refused',
      async () => {
        await page.goto(`${site}/`);
        await page.getByRole('button', { name: 'Sign in as Alan Turing' }).click();
        await expect.poll(() => page.locator('#proof').textContent()).toContain('"externalId": "3"');
        expect(await chatAs('Hello', false)).toBe('Hello Alan Turing, you said: Hello');
        expect(await chatAs('I am Ada now', true)).toBe('Hello, anonymous visitor, you said: I am Ada now');
        expect(await page.locator('#identity-status').textContent()).toBe(
          'Anonymous: report mode let it through; enforcing would refuse it (INVALID_SIGNATURE).',
        );
        const { report } = (await (await fetch(`${site}/api/rollout`)).json()) as { report: { tenants: { requests: number }[] } };
        expect(report.tenants[0]!.requests).toBe(1802);
        await page.goto(`${site}/rollout.html`);
        await page.locator('input[name=mode][value=true]').check();
        await expect.poll(async () => ((await (await fetch(`${site}/api/rollout`)).json()) as { mode: unknown }).mode).toBe(true);
        await page.goto(`${site}/`);
        await page.locator('#signed-in').waitFor(); // still signed in to the site
        expect(await chatAs('I am Ada again', true)).toMatch(/^401 identity_unverified: INVALID_SIGNATURE\./);
      },
      SLOW,
    );
  });

  it('ran the pages without a script error', () => {
    expect(pageErrors).toEqual([]);
  });
});

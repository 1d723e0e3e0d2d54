// The example site and its chat widget.
//
// The widget proves who the user is once, with the signed identity the site's server makes (a proof,
// good for 5 minutes), and goes on with the session credential the chat backend answers with
// (the `Chat-Identity-Session` header), bound to a key this browser holds and cannot export (DPoP).
// It asks the site for a fresh proof (its `refresh` callback) only when it has no session, or when the
// backend says the session is over: a 401 with `WWW-Authenticate: ChatIdentity error="session_expired"`
// (or "invalid_session"); then it sends the message again. A 401 with error="invalid_dpop_proof"
// means its clock was off: it sets it by the server's Date header and tries once more.
const $ = (id) => document.getElementById(id);
const SESSION_STORAGE = 'chat-identity-session';
const CHAT_URL = new URL('/chat', location.href).href;

async function json(response) {
  return response.headers.get('content-type')?.includes('json') ? response.json() : {};
}

// ---- The browser's key: ECDSA P-256, made non-exportable, kept in IndexedDB across page loads.

function keyStore() {
  return new Promise((resolve, reject) => {
    const open = indexedDB.open('chat-identity', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('keys');
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
}

function request(store, mode, call) {
  return new Promise((resolve, reject) => {
    const req = call(store.transaction('keys', mode).objectStore('keys'));
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function browserKey() {
  // WebCrypto needs a secure context (https, or localhost): elsewhere the widget goes on unbound.
  if (!globalThis.crypto?.subtle || !globalThis.indexedDB) return null;
  const store = await keyStore();
  let pair = await request(store, 'readonly', (keys) => keys.get('dpop'));
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
    await request(store, 'readwrite', (keys) => keys.put(pair, 'dpop'));
  }
  const { kty, crv, x, y } = await crypto.subtle.exportKey('jwk', pair.publicKey);
  return { privateKey: pair.privateKey, jwk: { kty, crv, x, y } };
}

const utf8 = (text) => new TextEncoder().encode(text);
const base64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

// ---- The widget.

function createWidget({ endpoint, refresh, onNotice }) {
  let clockOffset = 0; // the server's clock minus this browser's, from each answer's Date header
  let pendingProof = null; // a proof the site handed over, to send with the next message
  const key = browserKey().catch(() => null);

  const session = () => sessionStorage.getItem(SESSION_STORAGE);
  const forget = () => sessionStorage.removeItem(SESSION_STORAGE);

  function learn(response) {
    const date = Date.parse(response.headers.get('date') ?? '');
    if (!Number.isNaN(date)) clockOffset = date - Date.now();
    // A new (or renewed) credential replaces the stored one; "ended" means there is none any more.
    const said = response.headers.get('Chat-Identity-Session');
    if (said === 'ended') forget();
    else if (said) sessionStorage.setItem(SESSION_STORAGE, said);
  }

  // A DPoP proof (RFC 9449) over this request, made with the browser's key.
  async function dpop(method, url, credential) {
    const held = await key;
    if (!held) return undefined;
    const claims = { jti: crypto.randomUUID(), htm: method, htu: url, iat: Math.floor((Date.now() + clockOffset) / 1000) };
    if (credential) claims.ath = base64url(await crypto.subtle.digest('SHA-256', utf8(credential)));
    const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: held.jwk };
    const input = `${base64url(utf8(JSON.stringify(header)))}.${base64url(utf8(JSON.stringify(claims)))}`;
    const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, held.privateKey, utf8(input));
    return `${input}.${base64url(signature)}`;
  }

  async function post(url, body, credential) {
    const headers = { 'content-type': 'application/json' };
    if (credential) headers['Chat-Identity-Session'] = credential;
    const proofOfKey = await dpop('POST', url, credential);
    if (proofOfKey) headers.DPoP = proofOfKey;
    const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body) });
    learn(response);
    return response;
  }

  return {
    /** The site signed the user in (or switched account): its proof goes with the next message. */
    identify(proof) {
      pendingProof = proof;
    },
    hasSession: () => session() !== null,
    /**
     * Sends a message: with the session when there is one, with a proof when there is none (or a
     * pending one: another account's proof replaces the session). `change` alters the proof (the
     * demo's tamper box), which is then sent even beside a session: a proof, present, always decides.
     */
    async send(message, { change } = {}) {
      let retriedClock = false;
      let refreshed = false;
      for (;;) {
        const credential = session();
        const body = { message };
        let proof = null;
        if (!credential || pendingProof || change) {
          proof = pendingProof ?? (await refresh());
          pendingProof = null;
        }
        if (proof) {
          const customer = change ? change(proof.customer) : proof.customer;
          Object.assign(body, { customer, signature: proof.signature }, proof.testMode ? { testMode: true } : {});
        }
        const response = await post(endpoint, body, credential);
        const challenge = response.headers.get('WWW-Authenticate') ?? '';
        const error = /^ChatIdentity .*error="([^"]+)"/.exec(challenge)?.[1];
        if (response.status === 401 && error === 'invalid_dpop_proof' && !retriedClock) {
          retriedClock = true; // learn() has set the clock by this answer: one more try
          continue;
        }
        if (response.status === 401 && (error === 'session_expired' || error === 'invalid_session') && !refreshed && !change) {
          refreshed = true; // the session is over (learn() forgot it): a fresh proof, and again
          onNotice(
            `The session ended (${(await json(response.clone())).code}): ` +
              'the widget fetched a fresh proof from the site and sent the message again.',
          );
          continue;
        }
        return response;
      }
    },
    /** Signs out of the chat: the backend ends the session, and the widget forgets it. */
    async logout() {
      const credential = session();
      pendingProof = null;
      if (!credential) return;
      await post(new URL('/chat/logout', location.href).href, {}, credential);
      forget();
    },
  };
}

// ---- The site.

let proofsFetched = 0;

/** The widget's refresh callback: the site's server signs the signed-in user, fresh each time. */
async function refreshIdentity() {
  const response = await fetch('/site/identity');
  if (!response.ok) return null;
  proofsFetched += 1;
  $('proof-count').textContent = String(proofsFetched);
  const proof = await response.json();
  showProof(proof);
  return proof;
}

const widget = createWidget({ endpoint: CHAT_URL, refresh: refreshIdentity, onNotice: (text) => addMessage(text, 'notice') });
// For the curious (and the browser test): the widget's state, from the console.
globalThis.demoWidget = widget;

function addMessage(text, kind) {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  $('messages').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function showProof(proof) {
  $('key-kind').textContent = proof.testMode ? 'a test key, so the widget declares testMode: true' : 'the live key';
  $('proof').textContent = JSON.stringify({ customer: proof.customer, signature: proof.signature }, null, 2);
  // The tester examines proofs with the demo's test key only (demo/server.js): a live-key proof is not offered to it.
  $('open-tester').parentElement.hidden = !proof.testMode;
  sessionStorage.setItem(
    'tester-proof',
    JSON.stringify({ scheme: 'signed-payload', customer: proof.customer, signature: proof.signature }),
  );
}

async function renderSignedIn(user, { signedInNow = false } = {}) {
  $('signed-out').hidden = Boolean(user);
  $('signed-in').hidden = !user;
  if (!user) {
    $('identity-status').textContent = 'Not signed in: this chat requires a verified identity.';
    return;
  }
  $('user-name').textContent = user.name;
  // A proof when the user signs in; on a later page load, the stored session goes on without one.
  if (signedInNow || !widget.hasSession()) widget.identify(await refreshIdentity());
  else $('proof').textContent = '(none fetched on this page load: the widget goes on with its session)';
  $('identity-status').textContent = `Signed in as ${user.name}; the widget proves it with the first message, then goes on with a session.`;
}

async function loadUsers() {
  const users = await (await fetch('/site/users')).json();
  for (const user of users) {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = `Sign in as ${user.name}`;
    button.dataset.userId = user.id;
    button.addEventListener('click', async () => {
      const response = await fetch('/site/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: user.id }),
      });
      await renderSignedIn((await response.json()).user, { signedInNow: true });
    });
    $('users').append(button);
  }
  const { user } = await (await fetch('/site/me')).json();
  await renderSignedIn(user);
}

$('logout').addEventListener('click', async () => {
  await widget.logout();
  // As JSON, as every action: the server refuses a cross-site form's post (415).
  await fetch('/site/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  await renderSignedIn(null);
});

$('chat-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const message = $('message').value;
  $('message').value = '';
  addMessage(message, 'me');
  // A tampered proof keeps the signature but claims another user: the backend must refuse it, session or not.
  const change = $('tamper').checked ? (customer) => ({ ...customer, externalId: customer.externalId === '1' ? '2' : '1' }) : undefined;
  const response = await widget.send(message, { change });
  const answer = await json(response);
  if (response.ok && answer.anonymous) {
    // Report mode (or off): the backend let it through as an anonymous visitor.
    addMessage(answer.reply, 'them');
    $('identity-status').textContent = answer.wouldReject
      ? `Anonymous: report mode let it through; enforcing would refuse it (${answer.wouldReject}).`
      : `Anonymous${answer.code ? ` (${answer.code})` : ''}: verification is off.`;
    $('identity-status').className = 'bad';
  } else if (response.ok) {
    const { contact } = answer;
    addMessage(answer.reply, 'them');
    $('identity-status').textContent =
      `Verified contact: ${contact.name} (externalId ${contact.externalId}, ${contact.email}); ` +
      `signed fields: ${contact.verifiedFields.join(', ')}` +
      `${answer.test ? '; signed with a test key' : ''}; via ${answer.via}.`;
    $('identity-status').className = 'ok';
  } else {
    const reason = `${response.status} ${answer.error}: ${answer.code}. ${answer.message}${answer.hint ? ` Hint: ${answer.hint}` : ''}`;
    addMessage(reason, 'error');
    $('identity-status').textContent = `Refused: ${reason}`;
    $('identity-status').className = 'bad';
  }
});

loadUsers();

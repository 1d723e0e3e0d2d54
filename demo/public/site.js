// The example site and its chat widget. The widget fetches the signed identity from the site's
// server before each message (never caching it) and sends it with the message to the chat
// backend, which answers only a verified contact.
const $ = (id) => document.getElementById(id);
let identity = null;

async function json(response) {
  return response.headers.get('content-type')?.includes('json') ? response.json() : {};
}

async function refreshIdentity() {
  const response = await fetch('/site/identity');
  identity = response.ok ? await response.json() : null;
  return identity;
}

function addMessage(text, kind) {
  const item = document.createElement('li');
  item.className = kind;
  item.textContent = text;
  $('messages').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

async function renderSignedIn(user) {
  $('signed-out').hidden = Boolean(user);
  $('signed-in').hidden = !user;
  if (!user) {
    $('identity-status').textContent = 'Not signed in: this chat requires a verified identity.';
    return;
  }
  $('user-name').textContent = user.name;
  const proof = await refreshIdentity();
  $('key-kind').textContent = proof.testMode ? 'a test key, so the widget declares testMode: true' : 'the live key';
  $('proof').textContent = JSON.stringify({ customer: proof.customer, signature: proof.signature }, null, 2);
  sessionStorage.setItem(
    'tester-proof',
    JSON.stringify({ scheme: 'signed-payload', customer: proof.customer, signature: proof.signature }),
  );
  $('identity-status').textContent = `Signed in as ${user.name}; the widget sends the signed identity with each message.`;
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
      await renderSignedIn((await response.json()).user);
    });
    $('users').append(button);
  }
  const { user } = await (await fetch('/site/me')).json();
  await renderSignedIn(user);
}

$('logout').addEventListener('click', async () => {
  await fetch('/site/logout', { method: 'POST' });
  identity = null;
  await renderSignedIn(null);
});

$('chat-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const message = $('message').value;
  $('message').value = '';
  addMessage(message, 'me');
  const body = { message };
  const proof = await refreshIdentity();
  if (proof) {
    // A tampered proof keeps the signature but claims another user: the backend must refuse it.
    const customer = $('tamper').checked
      ? { ...proof.customer, externalId: proof.customer.externalId === '1' ? '2' : '1' }
      : proof.customer;
    Object.assign(body, { customer, signature: proof.signature });
    if (proof.testMode) body.testMode = true;
  }
  const response = await fetch('/chat', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = await json(response);
  if (response.ok) {
    const { contact } = answer;
    addMessage(answer.reply, 'them');
    $('identity-status').textContent =
      `Verified contact: ${contact.name} (externalId ${contact.externalId}, ${contact.email}); signed fields: ${contact.verifiedFields.join(', ')}${answer.test ? '; signed with a test key' : ''}.`;
    $('identity-status').className = 'ok';
  } else {
    const reason = `${response.status} ${answer.error}: ${answer.code}. ${answer.message}${answer.hint ? ` Hint: ${answer.hint}` : ''}`;
    addMessage(reason, 'error');
    $('identity-status').textContent = `Refused: ${reason}`;
    $('identity-status').className = 'bad';
  }
});

loadUsers();

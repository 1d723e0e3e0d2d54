// The signature tester page: builds the fields the widget would send from what was pasted, asks
// the demo's /api/tester endpoint, and shows the verdict and the diagnosis.
const $ = (id) => document.getElementById(id);

/** The inputs of each scheme: [wire field, label, textarea?, JSON?]. */
const FIELDS = {
  'signed-payload': [
    ['customer', 'customer (JSON)', true, true],
    ['signature', 'signature (hex)'],
  ],
  'user-hash': [
    ['user_id', 'user_id'],
    ['user_hash', 'user_hash (hex)'],
    ['user_metadata', 'user_metadata (JSON, optional)', true, true],
  ],
  'contact-hash': [
    ['ext_user_id', 'ext_user_id'],
    ['email', 'email'],
    ['phone', 'phone'],
    ['user_hash', 'user_hash (hex)'],
  ],
  jwt: [['token', 'token (the JWT)', true]],
  'visitor-hash': [
    ['anonymousUserId', 'anonymousUserId'],
    ['hmac', 'hmac (hex)'],
  ],
};

function renderFields() {
  const fields = $('fields');
  fields.replaceChildren();
  for (const [name, text, multiline] of FIELDS[$('scheme').value]) {
    const label = document.createElement('label');
    label.htmlFor = `field-${name}`;
    label.textContent = text;
    const input = document.createElement(multiline ? 'textarea' : 'input');
    if (!multiline) input.type = 'text';
    input.id = `field-${name}`;
    input.name = name;
    input.spellcheck = false;
    fields.append(label, input);
  }
}

/** What the widget would send; a pasted { customer, signature } response fills both fields. */
function proofFromForm() {
  const proof = {};
  for (const [name, , , isJson] of FIELDS[$('scheme').value]) {
    // As pasted: a space or newline around an id is a mistake the verifier refuses, and so must this page.
    const raw = $(`field-${name}`).value;
    if (raw.trim() === '') continue;
    if (!isJson) {
      proof[name] = name === 'token' ? raw.replace(/^bearer\s+/i, '') : raw;
      continue;
    }
    try {
      proof[name] = JSON.parse(raw);
    } catch {
      throw new Error(`${name} is not JSON.`);
    }
  }
  if (proof.customer && typeof proof.customer === 'object' && 'customer' in proof.customer && 'signature' in proof.customer) {
    proof.signature ??= proof.customer.signature;
    proof.customer = proof.customer.customer;
  }
  return proof;
}

function keysFromForm() {
  return $('keys')
    .value.split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      if (!line.startsWith('{')) return line;
      try {
        return JSON.parse(line);
      } catch {
        throw new Error('A key line starting with { is not JSON.');
      }
    });
}

function show(verdict, kind, diagnosis = '', details) {
  $('verdict').textContent = verdict;
  $('verdict').className = kind;
  $('diagnosis').textContent = diagnosis;
  $('details').hidden = details === undefined;
  $('details').textContent = details === undefined ? '' : JSON.stringify(details, null, 2);
}

$('scheme').addEventListener('change', renderFields);

$('tester').addEventListener('submit', async (event) => {
  event.preventDefault();
  let request;
  try {
    request = {
      scheme: $('scheme').value,
      proof: proofFromForm(),
      keys: keysFromForm(),
      testMode: $('test-mode').checked,
      allowTestKeys: !$('refuse-test-keys').checked,
    };
  } catch (error) {
    return show(error.message, 'bad');
  }
  const response = await fetch('/api/tester', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const result = await response.json();
  if (!response.ok) return show(`Cannot check: ${result.error}`, 'bad');
  const keys = result.keys === 'demo' ? " with this demo's test key" : '';
  if (result.verified) return show(`Verified${keys}: signed with a ${result.test ? 'test' : 'live'} key.`, 'ok', '', result.contact);
  if (!result.error) return show('Nothing to check: no proof for this scheme was given.', 'bad');
  const { code, message, hint } = result.error;
  show(
    `Not verified${keys}: ${code}. ${message}`,
    'bad',
    hint
      ? `Diagnosis${result.mistake ? ` (${result.mistake})` : ''}: ${hint}`
      : 'No known signing mistake explains it: check that both sides use the same key.',
  );
});

// A proof handed over from the example site's page.
const handed = sessionStorage.getItem('tester-proof');
renderFields();
if (handed) {
  sessionStorage.removeItem('tester-proof');
  const { customer, signature } = JSON.parse(handed);
  $('field-customer').value = JSON.stringify(customer, null, 2);
  $('field-signature').value = signature;
}

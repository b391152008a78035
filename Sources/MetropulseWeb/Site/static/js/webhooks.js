// The webhooks page: create an endpoint (its secret shown once), send a test, disable, enable,
// delete and redeliver, each through the admin API with the session's CSRF token.
import { describe, post, say, send } from './common.js';

function reloadSoon() {
  setTimeout(() => location.reload(), 1200);
}

function list(text) {
  const items = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return items.length ? items : undefined;
}

const form = document.getElementById('webhook-form');
form?.addEventListener('submit', async (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const body = {
    url: String(data.get('url') ?? '').trim(),
    events: data.getAll('events').map(String),
    description: String(data.get('description') ?? '').trim() || undefined,
    sources: list(String(data.get('sources') ?? '')),
    stations: list(String(data.get('stations') ?? '')),
    lines: list(String(data.get('lines') ?? '')),
    zones: list(String(data.get('zones') ?? '')),
  };
  for (const name of ['empty_at_most', 'full_at_most']) {
    const text = String(data.get(name) ?? '').trim();
    if (text !== '') body[name] = Number.isInteger(Number(text)) ? Number(text) : text;
  }
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const result = await post('/api/webhooks', body);
    if (result.ok) {
      document.getElementById('secret-endpoint').textContent = result.body.url;
      document.getElementById('secret-value').textContent = result.body.secret;
      document.getElementById('webhook-secret').hidden = false;
      say(`Endpoint ${result.body.id} created: copy its secret now, it is not shown again.`, true);
      form.reset();
      const section = document.getElementById('webhook-list');
      const response = await fetch(section.dataset.refresh, { credentials: 'same-origin' });
      if (response.ok) section.innerHTML = await response.text();
    } else {
      say(`Not created: ${describe(result)}`, false);
    }
  } catch (error) {
    say(`Not created: ${error.message}`, false);
  } finally {
    button.disabled = false;
  }
});

// Buttons in the list, which refreshes: one listener on the page.
document.addEventListener('click', async (event) => {
  const button = event.target.closest('[data-webhook-action]');
  if (!button) return;
  const { webhookAction: action, id, delivery } = button.dataset;
  const base = `/api/webhooks/${encodeURIComponent(id)}`;
  if (action === 'delete' && !window.confirm(`Delete the endpoint ${button.dataset.url} and its deliveries?`)) return;
  button.disabled = true;
  try {
    let result;
    if (action === 'test') result = await post(`${base}/test`);
    else if (action === 'disable') result = await send('PATCH', base, { enabled: false });
    else if (action === 'enable') result = await send('PATCH', base, { enabled: true });
    else if (action === 'delete') result = await send('DELETE', base);
    else if (action === 'redeliver') result = await post(`${base}/deliveries/${encodeURIComponent(delivery)}/redeliver`);
    if (result?.ok) {
      const said = {
        test: `Test delivery ${result.body.id} queued: it is sent within a second.`,
        disable: 'Endpoint disabled: its deliveries wait until it is enabled again.',
        enable: 'Endpoint enabled: waiting deliveries are sent again.',
        delete: 'Endpoint deleted with its deliveries.',
        redeliver: `Delivery ${delivery} queued again (same webhook-id and body).`,
      }[action];
      say(said, true);
      if (action === 'delete') { setTimeout(() => { location.href = '/admin/webhooks'; }, 800); } else reloadSoon();
    } else {
      say(`${action} failed: ${result ? describe(result) : 'no answer'}`, false);
    }
  } catch (error) {
    say(`${action} failed: ${error.message}`, false);
  } finally {
    button.disabled = false;
  }
});

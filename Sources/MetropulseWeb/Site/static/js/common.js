// Shared by every page: ages that tick, the live-feed indicator, refreshing sections of a page,
// and POSTs that carry the console's CSRF token.

/** "now", "12 s", "3 min", "2 h 5 min", "3 d" for a duration in milliseconds. */
export function duration(ms) {
  if (!Number.isFinite(ms)) return '—';
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 2) return 'now';
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  return `${Math.floor(h / 24)} d`;
}

/** "updated 12 s ago" for an epoch-ms time. */
export function ago(at, now = Date.now()) {
  if (at == null) return 'age unknown';
  const d = duration(now - at);
  return d === 'now' ? 'updated just now' : `updated ${d} ago`;
}

/** Minutes until an epoch-ms time: "Now", "3 min", "-1 min" (just left). */
export function minutesUntil(at, now = Date.now()) {
  const m = Math.round((at - now) / 60000);
  if (m === 0) return 'Now';
  return `${m} min`;
}

function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-observed]')) {
    const at = Number(el.dataset.observed);
    if (!Number.isFinite(at) || at <= 0) continue;
    const format = el.dataset.format;
    if (format === 'duration') el.textContent = duration(now - at);
    else if (format === 'since') el.textContent = duration(now - at) === 'now' ? 'just now' : `${duration(now - at)} ago`;
    else if (format === 'until') el.textContent = duration(at - now) === 'now' || at <= now ? 'due now' : `in ${duration(at - now)}`;
    else el.textContent = ago(at, now);
    const staleAfter = Number(el.dataset.staleAfter);
    if (staleAfter > 0) el.classList.toggle('stale', now - at > staleAfter * 1000);
  }
  for (const el of document.querySelectorAll('[data-departs]')) {
    const at = Number(el.dataset.departs);
    if (Number.isFinite(at) && at > 0) el.textContent = minutesUntil(at, now);
  }
}
tick();
setInterval(() => { if (!document.hidden) tick(); }, 1000);
export { tick };

// On a phone the navigation is one row that scrolls sideways: the current page's link is shown.
const currentLink = document.querySelector('.top nav a[aria-current="page"]');
const navRow = currentLink && currentLink.closest('nav');
if (navRow && navRow.scrollWidth > navRow.clientWidth) {
  navRow.scrollLeft = currentLink.offsetLeft - (navRow.clientWidth - currentLink.offsetWidth) / 2;
}

/** Shows or hides the quiet "live feed lost" indicator in the header. */
export function liveLost(lost) {
  const el = document.getElementById('live-lost');
  if (el) el.hidden = !lost;
}

/** The CSRF token of a signed-in console page. */
export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

/** Sends JSON (POST, PATCH, DELETE) with the session's CSRF token; resolves to {ok, status, body}. */
export async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let parsed = null;
  try { parsed = await response.json(); } catch { parsed = null; }
  return { ok: response.ok, status: response.status, body: parsed };
}

/** POSTs JSON with the session's CSRF token; resolves to {ok, status, body}. */
export function post(url, body) {
  return send('POST', url, body);
}

/** Says what a console control did, in the page's #control-outcome line. */
export function say(text, ok) {
  const outcome = document.getElementById('control-outcome');
  if (!outcome) return;
  outcome.textContent = text;
  outcome.className = `outcome ${ok ? 'ok' : 'failed'}`;
}

/** The API's error message of a failed {ok, status, body}. */
export function describe(result) {
  return result.body?.error?.message ?? `HTTP ${result.status}`;
}

// Sections with data-refresh="URL" are replaced by the HTML fragment that URL answers, at the
// interval chosen in the page's refresh selector (remembered), and not while the tab is hidden.
const refreshSelect = document.getElementById('refresh');
const sections = [...document.querySelectorAll('[data-refresh]')];
let refreshTimer = null;

async function refreshSections() {
  if (document.hidden) return;
  let failed = false;
  await Promise.all(sections.map(async (section) => {
    try {
      const response = await fetch(section.dataset.refresh, { credentials: 'same-origin' });
      if (response.status === 401 || response.redirected) { location.reload(); return; }
      if (!response.ok) { failed = true; return; }
      const html = await response.text();
      if (section.dataset.keepOpen) {
        const open = section.querySelector('details[open]')?.id;
        section.innerHTML = html;
        if (open) document.getElementById(open)?.setAttribute('open', '');
      } else {
        section.innerHTML = html;
      }
    } catch { failed = true; }
  }));
  liveLost(failed);
  tick();
  document.dispatchEvent(new CustomEvent('sections-refreshed'));
}

function schedule() {
  clearInterval(refreshTimer);
  const seconds = Number(refreshSelect?.value ?? 5);
  if (seconds > 0 && sections.length) refreshTimer = setInterval(refreshSections, seconds * 1000);
}

if (refreshSelect) {
  const saved = localStorage.getItem('metropulse.refresh');
  if (saved !== null && [...refreshSelect.options].some((o) => o.value === saved)) refreshSelect.value = saved;
  refreshSelect.addEventListener('change', () => {
    localStorage.setItem('metropulse.refresh', refreshSelect.value);
    schedule();
  });
}
if (sections.length) {
  schedule();
  document.addEventListener('visibilitychange', () => { if (!document.hidden) refreshSections(); });
}
export { refreshSections };

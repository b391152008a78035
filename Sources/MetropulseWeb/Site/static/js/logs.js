// The logs page's live tail: new lines matching the page's filters are fetched every two seconds
// and appended. The view follows them while the reader is at the bottom; scrolling up pauses the
// following (a button says how many lines came since and jumps back); reaching the bottom resumes.
import { liveLost } from './common.js';

const pane = document.getElementById('log-pane');
const body = document.getElementById('log-lines');
const state = document.getElementById('log-state');
const jump = document.getElementById('log-jump');
const maxRows = 2000;
const seen = new Set([...body.querySelectorAll('tr[data-id]')].map((row) => row.dataset.id));
let last = [...body.querySelectorAll('tr[data-time]')].map((row) => row.dataset.time).sort().pop()
  ?? new Date(Date.now() - 5000).toISOString();
let following = true;
let unseen = 0;

function atBottom() {
  return pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 8;
}

function show() {
  state.textContent = following ? 'Following new lines' : 'Paused';
  state.className = `badge ${following ? 'badge-info' : 'badge-paused'}`;
  jump.hidden = following;
  jump.textContent = unseen > 0 ? `Paused — ${unseen} new, jump to latest` : 'Paused — jump to latest';
}

function cell(text, className) {
  const td = document.createElement('td');
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function row(line) {
  const tr = document.createElement('tr');
  tr.dataset.id = String(line.id);
  tr.dataset.time = line.time;
  tr.className = `log-${line.level}`;
  const time = cell(line.time.slice(11, 19), 'log-time');
  time.title = `${line.time} · ${line.instance}`;
  tr.append(time, cell(line.service));
  const level = document.createElement('td');
  const badge = document.createElement('span');
  badge.className = `level level-${line.level}`;
  badge.textContent = line.level;
  level.append(badge);
  const message = document.createElement('td');
  message.className = 'log-message';
  const logger = document.createElement('span');
  logger.className = 'log-logger';
  logger.textContent = line.logger;
  message.append(logger, ` ${line.message}`);
  const keys = Object.keys(line.metadata ?? {}).sort();
  if (keys.length) {
    const meta = document.createElement('span');
    meta.className = 'log-meta';
    meta.textContent = keys.map((k) => `${k}=${line.metadata[k]}`).join(' ');
    message.append(' ', meta);
  }
  tr.append(level, message);
  return tr;
}

async function poll() {
  if (document.hidden) return;
  const url = `${pane.dataset.api}&since=${encodeURIComponent(last)}&limit=500`;
  try {
    const response = await fetch(url, { credentials: 'same-origin' });
    if (response.status === 401) { location.reload(); return; }
    if (!response.ok) { liveLost(true); return; }
    const list = await response.json();
    liveLost(false);
    const fresh = list.logs.filter((line) => !seen.has(String(line.id))).reverse();
    if (!fresh.length) return;
    const stick = following && atBottom();
    for (const line of fresh) {
      seen.add(String(line.id));
      body.append(row(line));
      if (line.time > last) last = line.time;
    }
    document.getElementById('log-empty')?.remove();
    while (body.rows.length > maxRows) {
      seen.delete(body.rows[0].dataset.id);
      body.rows[0].remove();
    }
    if (stick) pane.scrollTop = pane.scrollHeight;
    else { unseen += fresh.length; show(); }
  } catch {
    liveLost(true);
  }
}

pane.addEventListener('scroll', () => {
  const bottom = atBottom();
  if (bottom && !following) { following = true; unseen = 0; show(); }
  else if (!bottom && following) { following = false; show(); }
});
jump.addEventListener('click', () => {
  pane.scrollTop = pane.scrollHeight;
  following = true;
  unseen = 0;
  show();
});

pane.scrollTop = pane.scrollHeight;
show();
setInterval(poll, 2000);
document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });

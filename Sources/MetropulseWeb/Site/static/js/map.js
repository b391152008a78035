// The live map: stations (canvas circle markers coloured by availability), vehicles (arrows in
// their line colour, turned to their bearing), stops (fetching their next departures when
// opened), all kept current from /api/stream. Updates are batched per animation frame, markers
// are updated in place, and an open popup is updated without being re-set.
import { ago, duration, liveLost, minutesUntil } from './common.js';

const el = document.getElementById('map');
const staleMs = Number(el.dataset.staleSeconds || 3600) * 1000;
const map = L.map(el, { preferCanvas: true, worldCopyJump: true });
const renderer = L.canvas({ padding: 0.5 });
if (el.dataset.tileUrl) {
  L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || '', maxZoom: 19 }).addTo(map);
} else {
  el.classList.add('no-tiles');
}
const [clat, clon, czoom] = (el.dataset.center || '').split(',').map(Number);
let positioned = false;
if (Number.isFinite(clat) && Number.isFinite(clon)) {
  map.setView([clat, clon], Number.isFinite(czoom) ? czoom : 13);
  positioned = true;
} else {
  map.setView([48.8566, 2.3522], 12);
}

const colours = {
  empty: '#c62828', low: '#ef6c00', available: '#2e7d32', full: '#1565c0', closed: '#8a8a8a',
};
const stations = new Map();
const vehicles = new Map();
const stops = new Map();
const badges = new Map();
const groups = new Map(); // source → {stations, vehicles, stops}
const shown = { stations: true, vehicles: true, stops: true };
const hiddenSources = new Set();

function groupsOf(source) {
  let g = groups.get(source);
  if (!g) {
    g = { stations: L.layerGroup(), vehicles: L.layerGroup(), stops: L.layerGroup() };
    groups.set(source, g);
    applyVisibility(source);
  }
  return g;
}

function applyVisibility(source) {
  const g = groups.get(source);
  if (!g) return;
  for (const kind of ['stations', 'vehicles', 'stops']) {
    const visible = shown[kind] && !hiddenSources.has(source);
    if (visible && !map.hasLayer(g[kind])) g[kind].addTo(map);
    if (!visible && map.hasLayer(g[kind])) map.removeLayer(g[kind]);
  }
}

function sourceIsDown(source) {
  const state = badges.get(source)?.state;
  return state === 'stale' || state === 'down';
}

/** empty, low, available, full or closed (also: stale data, a source down). */
function category(s, now = Date.now()) {
  if (s.status !== 'in_service' || now - s.observed > staleMs || sourceIsDown(s.source)) return 'closed';
  if (s.bikes === 0) return 'empty';
  if (s.docks === 0) return 'full';
  if (s.bikes <= 2) return 'low';
  return 'available';
}

const categoryLabel = {
  empty: 'Empty', low: 'Few bikes', available: 'Bikes available', full: 'Full: no free dock', closed: 'Closed or no live data',
};

function radius() {
  const z = map.getZoom();
  return z >= 17 ? 11 : z >= 15 ? 8 : z >= 13 ? 6 : z >= 11 ? 4 : 3;
}

function text(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (content !== undefined) node.textContent = content;
  return node;
}

function stationPopup(record) {
  const root = text('div', 'popup station-popup');
  record.view = {
    name: root.appendChild(text('strong', 'popup-title')),
    state: root.appendChild(text('div', 'popup-state')),
    bar: root.appendChild(text('div', 'stack')),
    counts: root.appendChild(text('p', 'popup-counts')),
    age: root.appendChild(text('p', 'popup-age muted')),
  };
  const link = root.appendChild(text('a', null, 'History and raw observations →'));
  link.href = `/stations/${encodeURIComponent(record.data.source)}/${encodeURIComponent(record.data.id)}`;
  fillStationPopup(record);
  return root;
}

function fillStationPopup(record) {
  const s = record.data;
  const v = record.view;
  if (!v) return;
  const cat = category(s);
  v.name.textContent = s.name || s.id;
  v.state.textContent = categoryLabel[cat];
  v.state.className = `popup-state c-${cat}`;
  const ebikes = s.ebikes ?? 0;
  const mechanical = Math.max(0, s.bikes - ebikes);
  const docks = s.docks ?? 0;
  const total = Math.max(1, mechanical + ebikes + docks);
  v.bar.replaceChildren(
    barPart('bikes', mechanical, total), barPart('ebikes', ebikes, total), barPart('docks', docks, total));
  const dockText = s.docks == null ? 'docks —' : `${s.docks} free docks`;
  const ebikeText = s.ebikes == null ? '' : ` (${s.ebikes} e-bikes)`;
  v.counts.textContent = `${s.bikes} bikes${ebikeText} · ${dockText}${s.capacity ? ` · capacity ${s.capacity}` : ''}`;
  v.age.dataset.observed = s.observed;
  v.age.textContent = ago(s.observed);
}

function barPart(kind, count, total) {
  const part = text('span', `stack-${kind}`);
  part.style.width = `${(100 * count) / total}%`;
  part.title = `${count} ${kind === 'ebikes' ? 'e-bikes' : kind === 'bikes' ? 'mechanical bikes' : 'free docks'}`;
  return part;
}

function upsertStation(s) {
  if (s.lat == null || s.lon == null) return;
  let record = stations.get(s.key);
  const cat = category(s);
  if (!record) {
    const marker = L.circleMarker([s.lat, s.lon], {
      renderer, radius: radius(), weight: 1, color: '#ffffff', fillColor: colours[cat], fillOpacity: 0.92,
    });
    record = { data: s, marker, category: cat, view: null };
    marker.bindPopup(() => stationPopup(record), { maxWidth: 280 });
    marker.on('popupclose', () => { record.view = null; });
    marker.addTo(groupsOf(s.source).stations);
    stations.set(s.key, record);
    return;
  }
  const moved = record.data.lat !== s.lat || record.data.lon !== s.lon;
  record.data = s;
  if (moved) record.marker.setLatLng([s.lat, s.lon]);
  if (record.category !== cat) {
    record.category = cat;
    record.marker.setStyle({ fillColor: colours[cat] });
  }
  if (record.view) fillStationPopup(record);
}

function vehicleIcon(v) {
  const colour = v.color || '#37474f';
  const turn = v.bearing == null ? '' : `transform: rotate(${Math.round(v.bearing)}deg)`;
  const shape = v.bearing == null
    ? '<circle cx="9" cy="9" r="6"/>'
    : '<path d="M9 1 L16 16 L9 12 L2 16 Z"/>';
  return L.divIcon({
    className: 'vehicle-icon',
    iconSize: [18, 18],
    html: `<svg viewBox="0 0 18 18" width="18" height="18" style="${turn}" fill="${colour}" stroke="#fff" stroke-width="1.5" aria-hidden="true">${shape}</svg>`,
  });
}

function vehiclePopup(record) {
  const root = text('div', 'popup');
  record.view = {
    title: root.appendChild(text('strong', 'popup-title')),
    detail: root.appendChild(text('p', 'popup-counts')),
    age: root.appendChild(text('p', 'popup-age muted')),
  };
  if (record.data.line) {
    const link = root.appendChild(text('a', null, 'Line page →'));
    link.href = `/lines/${encodeURIComponent(record.data.network)}/${encodeURIComponent(record.data.line)}`;
  }
  fillVehiclePopup(record);
  return root;
}

function fillVehiclePopup(record) {
  const v = record.data;
  if (!record.view) return;
  record.view.title.textContent = `${v.line_name || v.line || 'Vehicle'} · ${v.label || v.id}`;
  record.view.detail.textContent = [v.stop ? `at or near stop ${v.stop}` : null,
    v.bearing == null ? null : `heading ${Math.round(v.bearing)}°`].filter(Boolean).join(' · ');
  record.view.age.dataset.observed = v.observed;
  record.view.age.textContent = `position ${ago(v.observed).replace('updated ', '')}`;
}

function upsertVehicle(v) {
  let record = vehicles.get(v.key);
  if (!record) {
    const marker = L.marker([v.lat, v.lon], { icon: vehicleIcon(v), keyboard: false, title: v.line_name || v.line || v.id });
    record = { data: v, marker, view: null };
    marker.bindPopup(() => vehiclePopup(record));
    marker.on('popupclose', () => { record.view = null; });
    marker.addTo(groupsOf(v.source).vehicles);
    vehicles.set(v.key, record);
    return;
  }
  const old = record.data;
  record.data = v;
  if (old.lat !== v.lat || old.lon !== v.lon) record.marker.setLatLng([v.lat, v.lon]);
  if (old.bearing !== v.bearing || old.color !== v.color) {
    const svg = record.marker.getElement()?.querySelector('svg');
    if (svg && old.bearing != null && v.bearing != null && old.color === v.color) {
      svg.style.transform = `rotate(${Math.round(v.bearing)}deg)`;
    } else {
      record.marker.setIcon(vehicleIcon(v));
    }
  }
  if (record.view) fillVehiclePopup(record);
}

function removeVehicle(key) {
  const record = vehicles.get(key);
  if (!record) return;
  record.marker.remove();
  vehicles.delete(key);
}

async function stopPopup(record) {
  const s = record.data;
  const root = text('div', 'popup');
  root.appendChild(text('strong', 'popup-title', s.name || s.id));
  const list = root.appendChild(text('ul', 'departures-mini'));
  list.appendChild(text('li', 'muted', 'Loading departures…'));
  const url = `/api/stops/${encodeURIComponent(s.id)}/departures?network=${encodeURIComponent(s.network)}&limit=6`;
  fetch(url).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`)))).then((body) => {
    list.replaceChildren();
    if (!body.departures.length) list.appendChild(text('li', 'muted', 'No departure in the stored data.'));
    for (const d of body.departures) {
      const at = Date.parse(d.expected_at || d.scheduled_at);
      const row = list.appendChild(text('li'));
      row.appendChild(text('span', 'line-chip', d.line_name || d.line || '?'));
      const when = row.appendChild(text('span', d.expected_at ? 'realtime' : 'scheduled'));
      when.dataset.departs = at;
      when.textContent = minutesUntil(at);
      if (!d.expected_at) row.appendChild(text('span', 'muted small', ' scheduled'));
      else if (d.delay_seconds && Math.abs(d.delay_seconds) >= 60) {
        row.appendChild(text('span', d.delay_seconds > 0 ? 'late small' : 'early small',
          ` ${d.delay_seconds > 0 ? '+' : '−'}${Math.round(Math.abs(d.delay_seconds) / 60)} min`));
      }
    }
  }).catch((error) => {
    list.replaceChildren(text('li', 'error', `Could not load departures: ${error.message}`));
  });
  return root;
}

function upsertStop(s) {
  let record = stops.get(s.key);
  if (!record) {
    const marker = L.circleMarker([s.lat, s.lon], {
      renderer, radius: 4, weight: 2, color: '#263238', fillColor: '#ffffff', fillOpacity: 1,
    });
    record = { data: s, marker };
    marker.bindPopup('…');
    marker.on('click', async () => { marker.setPopupContent(await stopPopup(record)); });
    marker.addTo(groupsOf(s.source).stops);
    stops.set(s.key, record);
    return;
  }
  record.data = s;
  if (record.marker.getLatLng().lat !== s.lat || record.marker.getLatLng().lng !== s.lon) {
    record.marker.setLatLng([s.lat, s.lon]);
  }
}

function removeStop(key) {
  const record = stops.get(key);
  if (!record) return;
  record.marker.remove();
  stops.delete(key);
}

function updateBadge(b) {
  const previous = badges.get(b.id)?.state;
  badges.set(b.id, b);
  const badge = document.querySelector(`[data-badge="${CSS.escape(b.id)}"]`);
  if (badge) {
    badge.textContent = b.state;
    badge.className = `badge badge-${b.state}`;
    badge.title = b.reason;
  }
  const fallback = document.querySelector(`[data-fallback="${CSS.escape(b.id)}"]`);
  if (fallback) {
    fallback.hidden = !b.fallback;
    fallback.title = b.fallback ? `last served by ${b.fallback}` : '';
  }
  if (previous !== b.state) {
    for (const record of stations.values()) {
      if (record.data.source === b.id) upsertStation(record.data);
    }
  }
}

function removeMissing(table, present, remove) {
  for (const key of [...table.keys()]) if (!present.has(key)) remove(key);
}

let pending = [];
let frame = 0;
const stats = { firstRenderAt: null, lastApplyMs: null, lastApplyCount: 0, applied: 0 };

function apply() {
  frame = 0;
  const started = performance.now();
  const batch = pending;
  pending = [];
  let count = 0;
  for (const change of batch) {
    for (const b of change.sources || []) updateBadge(b);
    if (change.snapshot) {
      if (change.stations) removeMissing(stations, new Set(change.stations.map((s) => s.key)), (k) => { stations.get(k).marker.remove(); stations.delete(k); });
      if (change.vehicles) removeMissing(vehicles, new Set(change.vehicles.map((v) => v.key)), removeVehicle);
      if (change.stops) removeMissing(stops, new Set(change.stops.map((s) => s.key)), removeStop);
    }
    for (const s of change.stations || []) { upsertStation(s); count++; }
    for (const v of change.vehicles || []) { upsertVehicle(v); count++; }
    for (const key of change.removed_vehicles || []) removeVehicle(key);
    for (const s of change.stops || []) { upsertStop(s); count++; }
    for (const key of change.removed_stops || []) removeStop(key);
    if (change.snapshot && !positioned) fitToData();
  }
  stats.lastApplyMs = performance.now() - started;
  stats.lastApplyCount = count;
  stats.applied += 1;
  if (stats.firstRenderAt === null && batch.some((c) => c.snapshot)) {
    stats.firstRenderAt = performance.now();
    performance.mark('metropulse-first-render');
  }
  el.dataset.stations = stations.size;
  el.dataset.vehicles = vehicles.size;
  el.dataset.stops = stops.size;
  el.dataset.updates = stats.applied;
  const counts = [`${stations.size.toLocaleString()} stations`];
  if (vehicles.size) counts.push(`${vehicles.size.toLocaleString()} vehicles`);
  if (stops.size) counts.push(`${stops.size.toLocaleString()} stops`);
  document.getElementById('counts').textContent = counts.join(' · ');
}

function fitToData() {
  const points = [];
  for (const r of stations.values()) points.push([r.data.lat, r.data.lon]);
  for (const r of stops.values()) points.push([r.data.lat, r.data.lon]);
  for (const r of vehicles.values()) points.push([r.data.lat, r.data.lon]);
  if (points.length) {
    map.fitBounds(L.latLngBounds(points), { padding: [20, 20], maxZoom: 15 });
    positioned = true;
  }
}

function enqueue(change) {
  pending.push(change);
  if (!frame) frame = requestAnimationFrame(apply);
}

let stream = null;
function connect() {
  if (stream) return;
  stream = new EventSource('/api/stream?topics=stations,vehicles,stops,sources');
  const onMessage = (event) => {
    liveLost(false);
    enqueue(JSON.parse(event.data));
  };
  stream.addEventListener('snapshot', onMessage);
  stream.addEventListener('update', onMessage);
  stream.addEventListener('open', () => liveLost(false));
  stream.addEventListener('error', () => liveLost(true));
}

function disconnect() {
  stream?.close();
  stream = null;
}

// Nothing streams while the tab is hidden; coming back asks for a fresh snapshot.
document.addEventListener('visibilitychange', () => (document.hidden ? disconnect() : connect()));
window.addEventListener('pagehide', disconnect);
connect();

map.on('zoomend', () => {
  const r = radius();
  for (const record of stations.values()) record.marker.setRadius(r);
});

// Ages and colours age on the client between updates: a station whose data went stale turns grey.
setInterval(() => {
  if (document.hidden) return;
  const now = Date.now();
  for (const record of stations.values()) {
    const cat = category(record.data, now);
    if (cat !== record.category) {
      record.category = cat;
      record.marker.setStyle({ fillColor: colours[cat] });
    }
  }
}, 15000);

// Layer toggles per source, and per kind of marker.
for (const box of document.querySelectorAll('[data-layer]')) {
  box.addEventListener('change', () => {
    if (box.checked) hiddenSources.delete(box.dataset.layer);
    else hiddenSources.add(box.dataset.layer);
    applyVisibility(box.dataset.layer);
  });
}
// A network's toggle switches every source of the network (and their own toggles with it).
for (const box of document.querySelectorAll('[data-network]')) {
  box.addEventListener('change', () => {
    for (const source of box.dataset.sources.split(',')) {
      if (box.checked) hiddenSources.delete(source);
      else hiddenSources.add(source);
      const own = document.querySelector(`[data-layer="${CSS.escape(source)}"]`);
      if (own) own.checked = box.checked;
      applyVisibility(source);
    }
  });
}
for (const kind of ['stations', 'vehicles', 'stops']) {
  const box = document.getElementById(`show-${kind}`);
  box?.addEventListener('change', () => {
    shown[kind] = box.checked;
    for (const source of groups.keys()) applyVisibility(source);
  });
}

// Search by name over what the map holds.
const search = document.getElementById('search');
const results = document.getElementById('search-results');
function runSearch() {
  const q = search.value.trim().toLowerCase();
  results.replaceChildren();
  if (q.length < 2) return;
  const matches = [];
  for (const r of stations.values()) if ((r.data.name || r.data.id).toLowerCase().includes(q)) matches.push(['station', r]);
  for (const r of stops.values()) if ((r.data.name || r.data.id).toLowerCase().includes(q)) matches.push(['stop', r]);
  for (const [kind, record] of matches.slice(0, 8)) {
    const item = results.appendChild(text('li'));
    const button = item.appendChild(text('button', 'result', `${record.data.name || record.data.id}`));
    button.type = 'button';
    button.appendChild(text('span', 'muted small', ` ${kind} · ${record.data.source}`));
    button.addEventListener('click', () => {
      map.setView(record.marker.getLatLng(), Math.max(map.getZoom(), 16));
      record.marker.fire('click');
      record.marker.openPopup();
    });
  }
  if (!matches.length) results.appendChild(text('li', 'muted small', 'No station or stop by that name.'));
}
search?.addEventListener('input', runSearch);
search?.addEventListener('keydown', (event) => {
  if (event.key === 'Enter') results.querySelector('button')?.click();
});

// "Near me": the browser's position, and the nearest stations with bikes.
let here = null;
document.getElementById('near-me')?.addEventListener('click', () => {
  const status = document.getElementById('near-me-status');
  if (!navigator.geolocation) { status.textContent = 'This browser cannot tell its position.'; return; }
  status.textContent = 'Finding your position…';
  navigator.geolocation.getCurrentPosition((position) => {
    const point = L.latLng(position.coords.latitude, position.coords.longitude);
    here?.remove();
    here = L.circleMarker(point, { renderer, radius: 8, color: '#0d47a1', weight: 3, fillColor: '#64b5f6', fillOpacity: 1 }).addTo(map);
    map.setView(point, 16);
    const nearest = [...stations.values()].filter((r) => category(r.data) !== 'closed' && r.data.bikes > 0)
      .map((r) => [point.distanceTo(r.marker.getLatLng()), r]).sort((a, b) => a[0] - b[0]).slice(0, 3);
    status.textContent = nearest.length
      ? `Nearest bikes: ${nearest.map(([d, r]) => `${r.data.name || r.data.id} (${r.data.bikes}, ${Math.round(d)} m)`).join('; ')}`
      : 'No station with bikes is known near you.';
  }, (error) => { status.textContent = `Position unavailable: ${error.message}`; }, { timeout: 10000 });
});

// For the browser tests and the dashboard benchmark: what the map holds, read from its markers.
window.metropulseMap = {
  stats,
  stationCount: () => stations.size,
  vehicleCount: () => vehicles.size,
  station(key) {
    const r = stations.get(key);
    return r ? { ...r.data, category: r.category, colour: r.marker.options.fillColor } : null;
  },
  stationKeys: () => [...stations.keys()],
  apply: (change) => { pending.push(change); apply(); return stats.lastApplyMs; },
  duration,
};

// A small map: a line's vehicles (data-points) or a city's zones (data-zones).
import { ago } from './common.js';

function base(el) {
  const map = L.map(el, { preferCanvas: true, scrollWheelZoom: false });
  if (el.dataset.tileUrl) {
    L.tileLayer(el.dataset.tileUrl, { attribution: el.dataset.tileAttribution || '', maxZoom: 19 }).addTo(map);
  } else {
    el.classList.add('no-tiles');
  }
  return map;
}

const line = document.getElementById('line-map');
if (line) {
  const points = JSON.parse(line.dataset.points || '[]');
  const map = base(line);
  const renderer = L.canvas();
  const bounds = [];
  for (const p of points) {
    const marker = L.circleMarker([p.lat, p.lon], { renderer, radius: 7, color: '#fff', weight: 2, fillColor: '#0b5cad', fillOpacity: 1 });
    marker.bindPopup(() => `<strong>${p.label.replace(/</g, '&lt;')}</strong><br>position ${ago(p.observed).replace('updated ', '')}`);
    marker.addTo(map);
    bounds.push([p.lat, p.lon]);
  }
  if (bounds.length) map.fitBounds(bounds, { padding: [20, 20], maxZoom: 15 });
  else map.setView([0, 0], 2);
}

const zones = document.getElementById('zone-map');
if (zones) {
  const list = JSON.parse(zones.dataset.zones || '[]');
  const map = base(zones);
  const layers = [];
  // Zones coloured by process_city's risk level (blue before it ran).
  const riskColour = { low: '#2e7d32', elevated: '#b26a00', high: '#c62828' };
  for (const z of list) {
    const colour = riskColour[z.risk] || '#0b5cad';
    const risk = z.risk ? `<br>risk: ${z.risk}` : '';
    const label = `<strong>${z.zone.replace(/</g, '&lt;')}</strong><br>${(z.summary || 'no reading yet').replace(/</g, '&lt;')}${risk}`;
    const layer = z.polygon && z.polygon.length >= 3
      ? L.polygon(z.polygon, { color: colour, weight: 2, fillColor: colour, fillOpacity: 0.2 })
      : L.circleMarker([z.lat, z.lon], { radius: 9, color: colour, weight: 2, fillColor: colour, fillOpacity: 0.6 });
    layer.bindPopup(label).bindTooltip(z.zone, { permanent: true, direction: 'top', className: 'zone-label' });
    layer.addTo(map);
    layers.push(layer);
  }
  if (layers.length) map.fitBounds(L.featureGroup(layers).getBounds(), { padding: [30, 30], maxZoom: 13 });
}

// A station's availability over the last 24 hours (Chart.js, from the page's data).
const canvas = document.getElementById('availability');
if (canvas && window.Chart) {
  const points = JSON.parse(canvas.dataset.points || '[]');
  const time = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const series = (label, key, colour) => ({
    label, data: points.map((p) => p[key] ?? null), borderColor: colour, backgroundColor: colour,
    pointRadius: 0, borderWidth: 2, stepped: true, spanGaps: false,
  });
  const datasets = [series('Bikes', 'bikes', '#2e7d32')];
  if (points.some((p) => p.ebikes != null)) datasets.push(series('E-bikes', 'ebikes', '#7cb342'));
  if (points.some((p) => p.docks != null)) datasets.push(series('Free docks', 'docks', '#1565c0'));
  new window.Chart(canvas, {
    type: 'line',
    data: { labels: points.map((p) => time(p.t)), datasets },
    options: {
      animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 12 } } },
    },
  });
}

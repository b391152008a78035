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

// The station's hours from the gold tier: mean bikes as bars, the hour's range as a line pair.
const hourly = document.getElementById('hourly');
if (hourly && window.Chart) {
  const points = JSON.parse(hourly.dataset.points || '[]');
  const hour = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  new window.Chart(hourly, {
    data: {
      labels: points.map((p) => hour(p.t)),
      datasets: [
        { type: 'bar', label: 'Mean bikes', data: points.map((p) => p.mean), backgroundColor: '#66bb6a' },
        { type: 'line', label: 'Lowest', data: points.map((p) => p.min), borderColor: '#c62828', pointRadius: 2, borderWidth: 1 },
        { type: 'line', label: 'Highest', data: points.map((p) => p.max), borderColor: '#1565c0', pointRadius: 2, borderWidth: 1 },
      ],
    },
    options: {
      animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 12 } } },
    },
  });
}

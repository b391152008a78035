// The city page's live stream: readings as they are stored (/api/cities/{city}/stream), newest
// first, the last 30 kept. EventSource reconnects by itself with Last-Event-ID.
const panel = document.getElementById('live-readings');
if (panel && window.EventSource) {
  const list = panel.querySelector('ol');
  const state = document.getElementById('live-state');
  const keep = 30;
  const format = (r) => {
    const time = new Date(r.observed_at).toISOString().slice(11, 19);
    const value = Number.isInteger(r.value) ? r.value : r.value.toFixed(1);
    return `${time} UTC · ${r.zone} · ${r.metric.replace(/_/g, ' ')} ${value}${r.unit ? ' ' + r.unit : ''}`;
  };
  const add = (readings, fresh) => {
    for (const r of readings) {
      const item = document.createElement('li');
      item.textContent = format(r);
      item.title = `${r.source}, run ${r.run_id}`;
      if (fresh) item.className = 'fresh';
      list.prepend(item);
    }
    while (list.children.length > keep) list.lastElementChild.remove();
  };
  const source = new EventSource(panel.dataset.stream);
  source.addEventListener('open', () => { state.textContent = 'connected'; });
  source.addEventListener('error', () => { state.textContent = 'reconnecting…'; });
  source.addEventListener('snapshot', (e) => {
    const data = JSON.parse(e.data);
    list.replaceChildren();
    add(data.readings.slice(-keep), false);
    panel.dataset.received = String(Number(panel.dataset.received || 0) + data.count);
  });
  source.addEventListener('readings', (e) => {
    const data = JSON.parse(e.data);
    add(data.readings, true);
    panel.dataset.received = String(Number(panel.dataset.received || 0) + data.count);
    panel.dataset.updates = String(Number(panel.dataset.updates || 0) + 1);
  });
}

// The power demand forecast: one line per zone, its profile dashed (Chart.js, from the page's data).
const forecast = document.getElementById('power-forecast');
if (forecast && window.Chart) {
  const series = JSON.parse(forecast.dataset.series || '[]');
  const colours = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00', '#00838f'];
  const times = series.length ? series[0].points.map((p) => p.at) : [];
  const label = (t) => new Date(Date.parse(t)).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const datasets = [];
  series.forEach((s, i) => {
    const colour = colours[i % colours.length];
    const at = new Map(s.points.map((p) => [p.at, p]));
    datasets.push({
      label: `${s.zone} (MW)`, data: times.map((t) => at.get(t)?.value ?? null), borderColor: colour,
      backgroundColor: colour, pointRadius: 0, borderWidth: 2,
    });
    datasets.push({
      label: `${s.zone} profile`, data: times.map((t) => at.get(t)?.profile ?? null), borderColor: colour,
      backgroundColor: colour, pointRadius: 0, borderWidth: 1, borderDash: [4, 4],
    });
  });
  new window.Chart(forecast, {
    type: 'line',
    data: { labels: times.map(label), datasets },
    options: {
      animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: false }, x: { ticks: { maxTicksLimit: 12 } } },
      plugins: { legend: { labels: { filter: (item) => !item.text.endsWith('profile') } } },
    },
  });
}

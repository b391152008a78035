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

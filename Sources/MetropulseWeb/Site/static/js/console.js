// The orchestrator's controls: each POSTs to the admin API with the session's CSRF token and
// says what happened; the sections then refresh to show the effect.
import { describe, post, refreshSections, say } from './common.js';

const target = document.getElementById('control-target');

const names = {
  PAUSE_FETCH: 'Pause', RESUME_FETCH: 'Resume', DRAIN: 'Drain', REBALANCE: 'Rebalance', RELOAD_CONFIG: 'Reload config',
};

for (const button of document.querySelectorAll('[data-command]')) {
  button.addEventListener('click', async () => {
    const kind = button.dataset.command;
    const worker = target?.value || null;
    button.disabled = true;
    try {
      const result = await post('/api/system/commands', { kind, target: worker });
      if (result.ok) {
        const to = result.body.workers.length;
        say(`${names[kind]} sent to ${worker ?? 'every worker'} (command ${result.body.id}; ${to} ${to === 1 ? 'worker' : 'workers'} to answer, see Commands).`, true);
        for (const delay of [800, 2500]) setTimeout(refreshSections, delay);
      } else {
        say(`${names[kind]} failed: ${describe(result)}`, false);
      }
    } catch (error) {
      say(`${names[kind]} failed: ${error.message}`, false);
    } finally {
      button.disabled = false;
    }
  });
}

// Scaling: the running pools' slots in all, or one pool's with a target.
async function scale(body, button) {
  const worker = target?.value || null;
  button.disabled = true;
  try {
    const result = await post('/api/system/workers/scale', { ...body, target: worker });
    if (result.ok && result.body.unit === 'processes') {
      const { processes_before: before, processes } = result.body;
      say(`Worker processes ${before} → ${processes} (metropulse supervise starts or stops them; stopped ones finish their tasks).`, true);
      for (const delay of [1500, 4000, 8000]) setTimeout(refreshSections, delay);
    } else if (result.ok) {
      const { slots_before: before, slots, pools } = result.body;
      say(`Slots ${before} → ${slots} on ${pools.length === 1 ? pools[0].worker_id : `${pools.length} pools`} (command ${result.body.command.id}); in-flight tasks finish.`, true);
      for (const delay of [800, 2500]) setTimeout(refreshSections, delay);
    } else {
      say(`Scaling failed: ${describe(result)}`, false);
    }
  } catch (error) {
    say(`Scaling failed: ${error.message}`, false);
  } finally {
    button.disabled = false;
  }
}

for (const button of document.querySelectorAll('[data-scale]')) {
  button.addEventListener('click', () => scale({ delta: Number(button.dataset.scale) }, button));
}
document.getElementById('scale-set')?.addEventListener('click', (event) => {
  const field = document.getElementById('scale-count');
  const count = Number.parseInt(field.value, 10);
  if (!Number.isInteger(count) || count < 1) {
    say('Slots: type how many slots the pools should have in all (1 or more).', false);
    field.focus();
    return;
  }
  scale({ count }, event.currentTarget);
});

document.getElementById('requeue-dead')?.addEventListener('click', async (event) => {
  const button = event.currentTarget;
  button.disabled = true;
  try {
    const result = await post('/api/system/queue/requeue-dead');
    say(result.ok ? `Requeued ${result.body.requeued} dead tasks.` : `Requeue failed: ${describe(result)}`, result.ok);
    refreshSections();
  } finally {
    button.disabled = false;
  }
});

document.getElementById('run-now')?.addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const source = document.getElementById('run-source').value;
  button.disabled = true;
  try {
    const result = await post(`/api/sources/${encodeURIComponent(source)}/run`);
    if (result.ok) {
      say(`Run of ${source} queued (job ${result.body.job_id}); it appears in the runs below when it finishes.`, true);
      for (const delay of [1500, 4000, 8000]) setTimeout(refreshSections, delay);
    } else {
      say(`Run now failed: ${describe(result)}`, false);
    }
  } finally {
    button.disabled = false;
  }
});

// Jobs: run now, pause and resume (buttons inside the refreshed grid, so listen on the document).
const jobVerbs = { run: 'Run asked for', pause: 'Paused', resume: 'Resumed' };
document.addEventListener('click', async (event) => {
  const button = event.target.closest?.('[data-job-action]');
  if (!button) return;
  const { jobAction: action, jobId: job } = button.dataset;
  button.disabled = true;
  try {
    const result = await post(`/api/jobs/${encodeURIComponent(job)}/${action}`);
    if (result.ok) {
      const when = action === 'run' ? ': the scheduler\'s leader starts it within a few seconds' : '';
      say(`${jobVerbs[action]} ${job}${when}.`, true);
      await refreshSections();
      if (action === 'run') for (const delay of [2500, 6000, 12000]) setTimeout(refreshSections, delay);
    } else {
      say(`${jobVerbs[action]} ${job} failed: ${describe(result)}`, false);
    }
  } finally {
    button.disabled = false;
  }
});

// A target that left the fleet stays selectable until the page reloads; the select keeps its choice
// across refreshes because it is outside the refreshed sections.

for (const button of document.querySelectorAll('[data-copy]')) {
  button.addEventListener('click', async () => {
    const text = document.getElementById(button.dataset.copy)?.textContent ?? '';
    const status = document.getElementById('copy-outcome');
    try {
      await navigator.clipboard.writeText(text);
      if (status) status.textContent = 'Copied.';
    } catch {
      if (status) status.textContent = 'The browser refused the clipboard: select the text instead.';
    }
  });
}

// A spike in the demo city: its sensors in a zone read a value for a while (every process serving
// the demo answers; City Live then sees it).
const incident = document.getElementById('incident-send');
if (incident) {
  incident.addEventListener('click', async () => {
    const zone = document.getElementById('incident-zone').value;
    const metric = document.getElementById('incident-metric').value;
    const value = Number(document.getElementById('incident-value').value);
    const minutes = Number(document.getElementById('incident-minutes').value);
    incident.disabled = true;
    try {
      const result = await post('/api/demo/incidents', { zone, metric, value, minutes });
      if (result.ok) {
        say(`The demo's ${metric} in zone ${zone} reads ${value} for ${minutes} min (command ${result.body.id}); City Live judges it at its next runs.`, true);
        for (const delay of [800, 2500]) setTimeout(refreshSections, delay);
      } else {
        say(`Demo incident failed: ${describe(result)}`, false);
      }
    } catch (error) {
      say(`Demo incident failed: ${error.message}`, false);
    } finally {
      incident.disabled = false;
    }
  });
}

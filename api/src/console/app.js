// The Test Console: one page, no build step, nothing loaded from elsewhere. It calls this
// server's own API with the key the user pastes, and keeps that key in memory only.
'use strict';

const GENERATIONS = '/api/v1/process-maps/generations';
// Seed 000's examples.
const EXAMPLES = {
  initial: {
    mode: 'initial',
    prompt: 'Map the customer support ticket triage process from intake to resolution.',
    language: 'english',
  },
  refinement: {
    mode: 'refinement',
    prompt: 'Add an escalation path for high-severity tickets.',
    source: {
      generation_id: '33333333-3333-4333-8333-333333333333',
      option_number: 2,
      version_number: 1,
    },
  },
};
// Polling gives up after this long; a generation has long finished or failed by then.
const POLL_LIMIT_MS = 10 * 60 * 1000;

const $ = (id) => document.getElementById(id);
const state = {
  lastInitial: null, // the id of the last initial generation that succeeded
  diagrams: [], // [{ label, xml, file }]
  objectUrls: [],
  busy: false,
};

function kind() {
  return document.querySelector('input[name=kind]:checked').value;
}

function example(which) {
  const body = structuredClone(EXAMPLES[which]);
  if (which === 'refinement' && state.lastInitial) {
    body.source = { generation_id: state.lastInitial, option_number: 1, version_number: 1 };
  }
  return JSON.stringify(body, null, 2);
}

function setStatus(text, tone) {
  const status = $('status');
  status.textContent = text;
  status.dataset.state = tone || '';
}

function showMode() {
  const key = $('key').value.trim();
  const badge = $('mode');
  if (key.startsWith('pm_sk_test_')) {
    badge.dataset.mode = 'test';
    badge.textContent = 'test key · mock mode';
  } else if (key.startsWith('pm_sk_live_')) {
    badge.dataset.mode = 'live';
    badge.textContent = 'live key · live mode';
  } else {
    badge.dataset.mode = 'none';
    badge.textContent = key ? 'not a procmap key' : 'no key';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function call(path, options = {}) {
  const headers = { Authorization: `Bearer ${$('key').value.trim()}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  let json = null;
  try {
    json = await response.json();
  } catch {
    json = null;
  }
  return { response, json };
}

function describeError(response, json) {
  const error = json && json.error;
  return error
    ? `HTTP ${response.status} · ${error.code}: ${error.message}`
    : `HTTP ${response.status}`;
}

async function send() {
  if (state.busy) return;
  let body;
  try {
    body = JSON.parse($('body').value);
  } catch (error) {
    setStatus(`The body is not valid JSON: ${error.message}`, 'error');
    $('body').focus();
    return;
  }
  if (!$('key').value.trim()) {
    setStatus('Paste an API key first.', 'error');
    $('key').focus();
    return;
  }
  state.busy = true;
  $('send').disabled = true;
  clearResult();
  try {
    const wait = $('wait').checked;
    setStatus(wait ? 'Sending, and waiting for the result…' : 'Sending…');
    let { response, json } = await call(`${GENERATIONS}${wait ? '?wait=true' : ''}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
    showJson(json);
    if (!response.ok) {
      setStatus(describeError(response, json), 'error');
      return;
    }
    const started = Date.now();
    let polls = 0;
    while (json.status === 'queued' || json.status === 'running') {
      if (Date.now() - started > POLL_LIMIT_MS) {
        setStatus(`Still ${json.status} after ten minutes; stopped polling.`, 'error');
        return;
      }
      const retryAfter = Number(response.headers.get('Retry-After')) || 1;
      polls += 1;
      setStatus(`HTTP ${response.status} · ${json.status} · polling links.self (${polls})…`);
      await sleep(Math.min(retryAfter, 2) * 1000);
      ({ response, json } = await call(json.links.self));
      showJson(json);
      if (!response.ok) {
        setStatus(describeError(response, json), 'error');
        return;
      }
    }
    if (json.status !== 'succeeded') {
      const why = json.error ? ` · ${json.error.code}: ${json.error.message}` : '';
      setStatus(`HTTP ${response.status} · ${json.status}${why}`, 'error');
      return;
    }
    setStatus(`HTTP ${response.status} · succeeded${polls ? ` after ${polls} polls` : ''}`, 'done');
    await showResult(json);
  } catch (error) {
    setStatus(`The request failed: ${error.message}`, 'error');
  } finally {
    state.busy = false;
    $('send').disabled = false;
  }
}

function clearResult() {
  state.objectUrls.forEach((url) => URL.revokeObjectURL(url));
  state.objectUrls = [];
  state.diagrams = [];
  $('previews').replaceChildren();
  document.querySelector('#view-preview .empty').hidden = false;
  $('xml-option').replaceChildren();
  $('xml-option').disabled = true;
  $('download').disabled = true;
  $('xml').textContent = 'No diagram yet.';
}

function showJson(json) {
  $('json').textContent = json ? JSON.stringify(json, null, 2) : 'The answer was not JSON.';
}

async function showResult(generation) {
  const latest = (versions) => versions.reduce((a, b) => (b.version_number > a.version_number ? b : a));
  if (generation.options) {
    state.diagrams = generation.options.map((option) => {
      const version = latest(option.versions);
      return {
        label: `Option ${option.option_number}`,
        option: option.option_number,
        version: version.version_number,
        xml: version.bpmn_xml,
      };
    });
    // A refinement's example then refers to this generation.
    if (generation.mode === 'initial') state.lastInitial = generation.id;
  } else if (generation.result) {
    const result = generation.result;
    state.diagrams = [{
      label: 'Result',
      option: result.option_number,
      version: result.version_number,
      xml: result.bpmn_xml,
    }];
  }
  const select = $('xml-option');
  state.diagrams.forEach((diagram, index) => {
    diagram.file = `procmap-${generation.id.slice(0, 8)}-option-${diagram.option}-v${diagram.version}.bpmn`;
    const choice = document.createElement('option');
    choice.value = String(index);
    choice.textContent = diagram.label;
    select.append(choice);
  });
  select.disabled = state.diagrams.length === 0;
  $('download').disabled = state.diagrams.length === 0;
  showXml();
  document.querySelector('#view-preview .empty').hidden = state.diagrams.length > 0;
  await Promise.all(state.diagrams.map((diagram) => preview(generation.id, diagram)));
}

async function preview(id, diagram) {
  const figure = document.createElement('figure');
  const caption = document.createElement('figcaption');
  caption.textContent = diagram.label;
  const holder = document.createElement('div');
  holder.className = 'picture';
  figure.append(caption, holder);
  $('previews').append(figure);
  const theme = $('dark').checked ? 'dark' : 'light';
  figure.classList.toggle('dark', theme === 'dark');
  const path = `${GENERATIONS}/${id}/image?option=${diagram.option}&version=${diagram.version}&theme=${theme}`;
  const response = await fetch(path, { headers: { Authorization: `Bearer ${$('key').value.trim()}` } });
  if (!response.ok) {
    let json = null;
    try { json = await response.json(); } catch { json = null; }
    holder.textContent = `No preview: ${describeError(response, json)}`;
    return;
  }
  const url = URL.createObjectURL(await response.blob());
  state.objectUrls.push(url);
  const image = document.createElement('img');
  image.alt = `${diagram.label}: the rendered BPMN diagram`;
  image.src = url;
  holder.append(image);
  await image.decode().catch(() => {});
}

function showXml() {
  const diagram = state.diagrams[Number($('xml-option').value) || 0];
  $('xml').textContent = diagram ? diagram.xml : 'No diagram yet.';
}

function download() {
  const diagram = state.diagrams[Number($('xml-option').value) || 0];
  if (!diagram) return;
  const url = URL.createObjectURL(new Blob([diagram.xml], { type: 'application/xml' }));
  const link = document.createElement('a');
  link.href = url;
  link.download = diagram.file;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Tabs as the WAI-ARIA pattern has them: arrows, Home and End move between tabs.
function selectTab(tab) {
  for (const other of document.querySelectorAll('[role=tab]')) {
    const selected = other === tab;
    other.setAttribute('aria-selected', String(selected));
    other.tabIndex = selected ? 0 : -1;
    $(other.getAttribute('aria-controls')).hidden = !selected;
  }
  tab.focus();
}

function onTabKey(event) {
  const tabs = [...document.querySelectorAll('[role=tab]')];
  const at = tabs.indexOf(event.currentTarget);
  const next = {
    ArrowRight: tabs[(at + 1) % tabs.length],
    ArrowLeft: tabs[(at - 1 + tabs.length) % tabs.length],
    Home: tabs[0],
    End: tabs[tabs.length - 1],
  }[event.key];
  if (next) {
    event.preventDefault();
    selectTab(next);
  }
}

function init() {
  $('body').value = example('initial');
  $('key').addEventListener('input', showMode);
  for (const radio of document.querySelectorAll('input[name=kind]')) {
    radio.addEventListener('change', () => {
      $('body').value = example(kind());
    });
  }
  $('send').addEventListener('click', send);
  $('body').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) send();
  });
  $('xml-option').addEventListener('change', showXml);
  $('download').addEventListener('click', download);
  for (const tab of document.querySelectorAll('[role=tab]')) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', onTabKey);
  }
  showMode();
}

init();

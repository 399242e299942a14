// The Test Console: one page, no build step, nothing loaded from elsewhere. It calls this
// server's own API with the key the user pastes, and keeps that key in memory only.
'use strict';

const GENERATIONS = '/api/v1/process-maps/generations';
const DIAGRAMS = '/api/v1/diagrams';
const COPILOT = '/api/v1/copilot';
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
  session: null, // { id, diagram_id } of the copilot conversation shown
  chatting: false,
  diagramUrl: null, // the object URL of the diagram picture shown beside the chat
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
    // A refinement's example then refers to this generation, and the copilot may save it.
    if (generation.mode === 'initial') {
      state.lastInitial = generation.id;
      $('save-option').disabled = false;
    }
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

// The copilot: a conversation about one diagram, its answers streamed as server-sent events.

function setChatStatus(text, tone) {
  $('chat-status').textContent = text;
  $('chat-status').dataset.state = tone || '';
}

async function saveOption() {
  if (!state.lastInitial) return;
  const { response, json } = await call(DIAGRAMS, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ from_generation: { generation_id: state.lastInitial, option_number: 1, version_number: 1 } }),
  });
  if (!response.ok) {
    setChatStatus(describeError(response, json), 'error');
    return;
  }
  $('diagram-id').value = json.id;
  setChatStatus(`Saved option 1 as diagram “${json.name}”.`);
  await openDiagram();
}

// Shows the diagram named in the id field, and its conversation so far. The diagram links its
// session when it has one, so no lookup has to fail first.
async function openDiagram() {
  const id = $('diagram-id').value.trim();
  if (!id || (state.session && state.session.diagram_id === id)) return;
  state.session = null;
  $('chat-log').replaceChildren();
  const diagram = await showDiagram(id);
  if (!diagram || !diagram.links.copilot_session) return;
  const found = await call(diagram.links.copilot_session);
  if (!found.response.ok) return;
  state.session = found.json;
  const { response, json } = await call(`${COPILOT}/sessions/${found.json.id}/messages?limit=100`);
  if (response.ok) json.data.forEach(showStoredMessage);
}

// The session of the diagram shown, started on its first message.
async function session(diagramId) {
  if (state.session && state.session.diagram_id === diagramId) return state.session.id;
  const { response, json } = await call(`${COPILOT}/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ diagram_id: diagramId }),
  });
  if (!response.ok) throw new Error(describeError(response, json));
  state.session = json;
  return json.id;
}

// Shows a diagram's latest version; answers the diagram, or null when it cannot be read.
async function showDiagram(id) {
  const { response, json } = await call(`${DIAGRAMS}/${encodeURIComponent(id)}`);
  if (!response.ok) {
    $('diagram-caption').textContent = describeError(response, json);
    $('diagram-picture').replaceChildren();
    return null;
  }
  $('diagram-caption').textContent = `${json.name} · version ${json.latest_version ?? '–'}`;
  const theme = $('dark').checked ? 'dark' : 'light';
  $('diagram-figure').classList.toggle('dark', theme === 'dark');
  const picture = await fetch(`${DIAGRAMS}/${json.id}/image?theme=${theme}`, {
    headers: { Authorization: `Bearer ${$('key').value.trim()}` },
  });
  if (!picture.ok) return json;
  if (state.diagramUrl) URL.revokeObjectURL(state.diagramUrl);
  state.diagramUrl = URL.createObjectURL(await picture.blob());
  const image = document.createElement('img');
  image.alt = `${json.name}, version ${json.latest_version}: the rendered BPMN diagram`;
  image.src = state.diagramUrl;
  $('diagram-picture').replaceChildren(image);
  await image.decode().catch(() => {});
  return json;
}

function messageElement(role) {
  const item = document.createElement('li');
  item.className = `message ${role}`;
  const who = document.createElement('div');
  who.className = 'who';
  who.textContent = role === 'user' ? 'You' : 'Copilot';
  item.append(who);
  $('chat-log').append(item);
  return item;
}

function showUserMessage(text) {
  const item = messageElement('user');
  const body = document.createElement('div');
  body.className = 'reply';
  body.textContent = text;
  item.append(body);
}

// One copilot answer: its steps as they arrive, its reply, its diff, and Apply.
function answerElement() {
  const item = messageElement('copilot');
  const steps = document.createElement('ol');
  steps.className = 'steps';
  const reply = document.createElement('div');
  reply.className = 'reply';
  item.append(steps, reply);
  return { item, steps, reply };
}

function addStep(answer, text, detail) {
  const step = document.createElement('li');
  if (detail === undefined) {
    step.textContent = text;
  } else {
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = text;
    const pre = document.createElement('pre');
    pre.textContent = JSON.stringify(detail, null, 2);
    details.append(summary, pre);
    step.append(details);
  }
  answer.steps.append(step);
  $('chat-log').scrollTop = $('chat-log').scrollHeight;
}

function describeDiff(diff) {
  if (!diff) return '';
  const names = (list) => list.map((e) => e.name || e.id).join(', ');
  const parts = [];
  const { elements } = diff;
  if (elements.added.length) parts.push(`added ${names(elements.added)}`);
  if (elements.removed.length) parts.push(`removed ${names(elements.removed)}`);
  if (elements.changed.length) parts.push(`changed ${names(elements.changed)}`);
  const flows = diff.flows.added.length + diff.flows.removed.length + diff.flows.changed.length;
  if (flows) parts.push(`${flows} flow change${flows === 1 ? '' : 's'}`);
  return parts.length ? `Proposal: ${parts.join('; ')}.` : '';
}

function finishAnswer(answer, messageId, content, diff, proposes, applied) {
  answer.reply.textContent = content;
  const summary = describeDiff(diff);
  if (summary) {
    const line = document.createElement('p');
    line.className = 'diff';
    line.textContent = summary;
    answer.item.append(line);
  }
  if (!proposes) return;
  const actions = document.createElement('div');
  actions.className = 'actions';
  const apply = document.createElement('button');
  apply.type = 'button';
  apply.textContent = 'Apply as the next version';
  const note = document.createElement('span');
  note.className = 'hint';
  actions.append(apply, note);
  answer.item.append(actions);
  if (applied) {
    apply.disabled = true;
    note.textContent = `Applied as version ${applied}.`;
    return;
  }
  apply.addEventListener('click', async () => {
    apply.disabled = true;
    const { response, json } = await call(`${COPILOT}/sessions/${state.session.id}/messages/${messageId}/snapshot`, { method: 'POST' });
    if (!response.ok) {
      note.textContent = describeError(response, json);
      apply.disabled = json && json.error && json.error.code === 'already_applied';
      return;
    }
    note.textContent = `Applied as version ${json.version_number}.`;
    await showDiagram(json.diagram_id);
  });
}

function showStoredMessage(message) {
  if (message.role === 'user') {
    showUserMessage(message.content);
    return;
  }
  const answer = answerElement();
  if (message.status === 'failed') {
    answer.item.classList.add('failed');
    answer.reply.textContent = message.error ? message.error.message : 'The copilot failed.';
  } else if (message.status !== 'succeeded') {
    answer.reply.textContent = `(${message.status})`;
  } else {
    finishAnswer(answer, message.id, message.content, message.diagram_diff,
      Boolean(message.proposed_bpmn_xml), message.applied_version);
  }
}

// Reads a `text/event-stream` body, calling `onEvent(name, data)` for each event.
async function readEvents(response, onEvent) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join('\n')));
    }
  }
}

async function chat() {
  if (state.chatting) return;
  const message = $('chat-message').value.trim();
  const diagramId = $('diagram-id').value.trim();
  if (!$('key').value.trim()) {
    setChatStatus('Paste an API key first.', 'error');
    $('key').focus();
    return;
  }
  if (!diagramId) {
    setChatStatus('Give a diagram id, or save an option of a generation as a diagram.', 'error');
    $('diagram-id').focus();
    return;
  }
  if (!message) {
    setChatStatus('Write a message first.', 'error');
    $('chat-message').focus();
    return;
  }
  state.chatting = true;
  $('chat-send').disabled = true;
  try {
    await openDiagram();
    const sessionId = await session(diagramId);
    setChatStatus('Sending…');
    const response = await fetch(`${COPILOT}/sessions/${sessionId}/chat`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${$('key').value.trim()}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ message }),
    });
    if (!response.ok) {
      let json = null;
      try { json = await response.json(); } catch { json = null; }
      setChatStatus(describeError(response, json), 'error');
      return;
    }
    showUserMessage(message);
    $('chat-message').value = '';
    const answer = answerElement();
    let ended = '';
    await readEvents(response, (name, data) => {
      if (name === 'status') {
        addStep(answer, data.message);
        setChatStatus(data.message);
        if (data.background) ended = 'background';
      } else if (name === 'tool_call') {
        addStep(answer, `→ ${data.name}`, data.arguments);
      } else if (name === 'tool_result') {
        addStep(answer, `← ${data.name}`, data.result);
      } else if (name === 'content_delta') {
        answer.reply.textContent += data.delta;
      } else if (name === 'complete') {
        ended = 'complete';
        finishAnswer(answer, data.message_id, data.content, data.diagram_diff, data.has_proposal, null);
        setChatStatus('The copilot answered.', 'done');
      } else if (name === 'error') {
        ended = 'error';
        answer.item.classList.add('failed');
        answer.reply.textContent = data.error;
        setChatStatus(`The copilot failed: ${data.error}`, 'error');
      }
    });
    if (!ended) setChatStatus('The stream ended early; the answer will appear in the conversation.', 'error');
  } catch (error) {
    setChatStatus(`The request failed: ${error.message}`, 'error');
  } finally {
    state.chatting = false;
    $('chat-send').disabled = false;
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
  $('save-option').addEventListener('click', saveOption);
  $('diagram-id').addEventListener('change', () => openDiagram().catch((e) => setChatStatus(e.message, 'error')));
  $('chat-send').addEventListener('click', chat);
  $('chat-message').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) chat();
  });
  $('download').addEventListener('click', download);
  for (const tab of document.querySelectorAll('[role=tab]')) {
    tab.addEventListener('click', () => selectTab(tab));
    tab.addEventListener('keydown', onTabKey);
  }
  showMode();
}

init();

// The dashboard page: asks for an API key, lists the collections, shows the chosen one live
// (records, change feed, who else watches it, connection state) and writes records with PUT.
import { ApiError, SNAPSHOT_LIMIT, createApi } from './api.js';
import { LiveCollection, PROTOCOLS } from './live.js';
import { ChangeFeed, CollectionList, ConnectionBadge, PeersPanel, PresenceList, RecordsTable } from './view.js';

const KEY_STORAGE = 'redissync.apiKey';
const NAME_STORAGE = 'redissync.name';
const COLLECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const REFRESH_MS = 10_000;
const PEERS_REFRESH_MS = 3_000;

const $ = (id) => document.getElementById(id);

let apiKey = null;
let live = null;
let current = null; // the collection shown
let refreshTimer = null;
let peersTimer = null;

const api = createApi(() => apiKey);
const badge = new ConnectionBadge($('connection'));
const collectionList = new CollectionList($('collections'), $('collections-note'), (name) => { location.hash = encodeURIComponent(name); });
const table = new RecordsTable($('records'), fillWriteForm);
const feed = new ChangeFeed($('feed'), $('feed-empty'));
const watchers = new PresenceList($('presence-panel'), $('presence'), $('presence-count'));
const peers = new PeersPanel($('peers-panel'), $('peers'), $('peers-site'), $('peers-asof'));

// --- hub protocol: ?protocol=json (default) or ?protocol=messagepack --------------------------------

const protocol = (() => {
  const asked = new URLSearchParams(location.search).get('protocol')?.toLowerCase();
  return asked && Object.hasOwn(PROTOCOLS, asked) ? asked : 'json';
})();
$('protocol').value = protocol;
$('protocol').addEventListener('change', () => {
  const url = new URL(location.href);
  url.searchParams.set('protocol', $('protocol').value);
  location.assign(url); // a new connection speaks the new protocol; the hash keeps the collection
});

// --- API key ---------------------------------------------------------------------------------------

function askForKey(message) {
  live?.stop();
  live = null;
  current = null;
  watchers.hide();
  stopPeers();
  apiKey = null;
  sessionStorage.removeItem(KEY_STORAGE);
  $('app').hidden = true;
  $('key-status').hidden = true;
  $('key-panel').hidden = false;
  $('key-error').textContent = message ?? '';
  badge.set('idle', 'not connected');
  $('key-input').value = '';
  $('key-input').focus();
}

$('key-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const candidate = $('key-input').value.trim();
  if (!candidate) return;
  $('key-submit').disabled = true;
  $('key-error').textContent = '';
  try {
    await signIn(candidate, false);
  } finally {
    $('key-submit').disabled = false;
  }
});

$('change-key').addEventListener('click', () => askForKey(''));

// Checks the key with GET /collections, then opens the dashboard. A key kept from earlier in this tab is
// used even when the gateway is down at the moment: the page connects as soon as it is back.
async function signIn(candidate, stored) {
  apiKey = candidate;
  let collections = [];
  try {
    collections = await api.collections();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      askForKey(stored ? 'The saved key is no longer accepted. Enter a key.' : 'That key was refused (401). Check it and try again.');
      return;
    }
    if (!stored) {
      apiKey = null;
      $('key-error').textContent = `Could not check the key: ${error.message}`;
      return;
    }
  }
  sessionStorage.setItem(KEY_STORAGE, candidate);
  openDashboard(collections);
}

// --- the dashboard ---------------------------------------------------------------------------------

function openDashboard(collections) {
  $('key-panel').hidden = true;
  $('app').hidden = false;
  $('key-status').hidden = false;
  $('key-hint').textContent = `••••${apiKey.slice(-4)}`;
  collectionList.render(collections);

  try {
    live = new LiveCollection({
      api,
      getKey: () => apiKey,
      protocol,
      events: {
        state: (name, detail) => badge.set(name, detail ? `${detail} · ${PROTOCOLS[protocol]}` : PROTOCOLS[protocol]),
        snapshot: onSnapshot,
        change: onChange,
        presence: (members, selfId) => watchers.render(members, selfId),
        problem: showRecordsError,
        unauthorized: () => askForKey('The gateway refused the key. Enter a key.'),
      },
    });
  } catch (error) {
    badge.set('error', '');
    showRecordsError(error.message);
    return;
  }
  const name = sessionStorage.getItem(NAME_STORAGE);
  if (name) {
    $('name-input').value = name;
    live.setPresence({ name });
  }
  showCollection(collectionFromHash());
  live.start();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refreshCollections, REFRESH_MS);
  stopPeers();
  refreshPeers();
  peersTimer = setInterval(refreshPeers, PEERS_REFRESH_MS);
}

function collectionFromHash() {
  try {
    const name = decodeURIComponent(location.hash.slice(1));
    return COLLECTION_NAME.test(name) ? name : null;
  } catch {
    return null;
  }
}

window.addEventListener('hashchange', () => {
  if (live) showCollection(collectionFromHash());
});

function showCollection(name) {
  if (!name || name === current) return;
  current = name;
  truncated = false;
  collectionList.select(name);
  $('records-title').textContent = name;
  $('records-meta').textContent = '';
  $('write-target').textContent = `into ${name}`;
  $('write-submit').disabled = false;
  table.clear();
  feed.clear();
  showRecordsError('');
  showRecordsNote('Loading…');
  live.open(name);
}

let truncated = false;

function onSnapshot(collection, records, snapshot) {
  truncated = snapshot.truncated;
  table.reset(records);
  showRecordsError('');
  updateRecordsMeta();
}

function onChange(change, applied, delta) {
  feed.add(change, applied);
  if (!applied) return;
  if (change.kind === 'delete') table.remove(change.id);
  else table.upsert(change.record, change.changedFields ?? []);
  updateRecordsMeta();
  // The sidebar's count follows each change at once; a collection not listed yet, or a change whose
  // effect on the count is unknown, asks the API.
  if (delta === null || !collectionList.adjust(change.collection, delta)) refreshCollections();
}

function updateRecordsMeta() {
  $('records-meta').textContent = `${table.size} live record${table.size === 1 ? '' : 's'}`;
  if (truncated) showRecordsNote(`Showing the first ${SNAPSHOT_LIMIT} records (by id), and every change after them.`);
  else showRecordsNote(table.size === 0 ? 'No records yet.' : '');
}

function showRecordsNote(text) {
  $('records-message').textContent = text;
  $('records-message').hidden = text === '';
}

function showRecordsError(text) {
  $('records-error').textContent = text;
  $('records-error').hidden = text === '';
}

// Record counts of every collection: the open one's follow its changes; all are refreshed now and then.
async function refreshCollections() {
  if (!live) return;
  try {
    collectionList.render(await api.collections());
    collectionList.select(current);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) askForKey('The gateway refused the key. Enter a key.');
    // Otherwise the gateway is away for a moment: the connection badge says so; keep the last list.
  }
}

// --- replication peers: shown only to a key that may see them -----------------------------------------

async function refreshPeers() {
  if (!live) return;
  try {
    peers.render(await api.replication());
  } catch (error) {
    // A key without Replicate or read * may not see replication: show nothing and stop asking. A 401 is
    // the key as a whole, which the rest of the page handles.
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) stopPeers();
    // Otherwise the gateway is away for a moment: the panel keeps its last view, its "as of" ages.
  }
}

function stopPeers() {
  clearInterval(peersTimer);
  peersTimer = null;
  peers.hide();
}

$('open-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const name = $('open-input').value.trim();
  if (!COLLECTION_NAME.test(name)) return;
  $('open-input').value = '';
  location.hash = encodeURIComponent(name);
});

// --- writing ---------------------------------------------------------------------------------------

function fillWriteForm(record) {
  if (!record) return;
  $('write-id').value = record.id;
  $('write-version').value = String((record.clock?.version ?? 0) + 1);
  $('write-data').value = JSON.stringify(record.data, null, 2);
  writeResult('', '');
}

function writeResult(text, kind) {
  const result = $('write-result');
  result.textContent = text;
  result.dataset.kind = kind;
}

$('write-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!current) {
    writeResult('Choose a collection first.', 'error');
    return;
  }
  const id = $('write-id').value.trim();
  const version = Number($('write-version').value);
  const dataText = $('write-data').value.trim();
  if (!Number.isSafeInteger(version) || version < 0) {
    writeResult('version must be a whole number from 0 to 2^53−1.', 'error');
    return;
  }
  let data;
  try {
    data = JSON.parse(dataText);
  } catch (error) {
    writeResult(`data is not valid JSON: ${error.message}`, 'error');
    return;
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    writeResult('data must be a JSON object, e.g. { "name": "Ada" }.', 'error');
    return;
  }
  $('write-submit').disabled = true;
  writeResult(`Writing ${id}…`, 'pending');
  try {
    const result = await api.put(current, id, version, dataText);
    const stale = result.staleFields?.length ? ` · stale fields: ${result.staleFields.join(', ')}` : '';
    writeResult(`${result.outcome}${result.created ? ' (created)' : ''} · ${id} revision ${result.revision}${stale}`, result.outcome === 'applied' ? 'ok' : 'info');
    if (result.outcome === 'applied') $('write-version').value = String(version + 1);
  } catch (error) {
    writeResult(error.message, 'error');
  } finally {
    $('write-submit').disabled = false;
  }
});

// --- presence: this page's name ----------------------------------------------------------------------

$('name-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!live) return;
  const name = $('name-input').value.trim();
  $('name-error').textContent = '';
  try {
    await live.setPresence(name ? { name } : {});
    if (name) sessionStorage.setItem(NAME_STORAGE, name);
    else sessionStorage.removeItem(NAME_STORAGE);
  } catch (error) {
    $('name-error').textContent = String(error?.message ?? error).replace(/^.*HubException: /, '');
  }
});

// --- start -----------------------------------------------------------------------------------------

$('write-submit').disabled = true;
const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) signIn(saved, true);
else askForKey('');

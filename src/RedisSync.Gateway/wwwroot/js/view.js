// DOM rendering. Every piece of user data goes in through textContent, title or dataset: never as HTML.

const HIGHLIGHT_MS = 2500;
/** Field columns shown in the records table; further fields share one "other fields" column. */
const MAX_FIELD_COLUMNS = 10;
const FEED_LENGTH = 50;

/** Creates an element: el('td', { className: 'x', title: 't' }, 'text', child…). */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (name === 'dataset') Object.assign(node.dataset, value);
    else node[name] = value;
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child); // strings become text nodes
  }
  return node;
}

/** A field value as one line of text: strings as they are, everything else as JSON. */
export function formatValue(value) {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleTimeString([], { hour12: false });
}

// Restarts the highlight of an element (also when it is still highlighted from an earlier change).
const highlightTimers = new WeakMap();
function highlight(node, className = 'changed') {
  clearTimeout(highlightTimers.get(node));
  node.classList.remove(className);
  void node.offsetWidth; // restart the CSS animation
  node.classList.add(className);
  highlightTimers.set(node, setTimeout(() => node.classList.remove(className), HIGHLIGHT_MS));
}

/** The connection badge in the top bar: `data-state` is one of connecting, connected, reconnecting, resumed, resync. */
export class ConnectionBadge {
  constructor(root) {
    this.root = root;
    this.label = root.querySelector('#connection-label');
    this.detail = root.querySelector('#connection-detail');
  }

  set(state, detail) {
    this.root.dataset.state = state;
    this.label.textContent = state;
    const time = new Date().toLocaleTimeString([], { hour12: false });
    this.detail.textContent = detail ? `${detail} · ${time}` : time;
  }
}

/** The list of collections with their record counts; the chosen one is marked. */
export class CollectionList {
  constructor(list, note, onChoose) {
    this.list = list;
    this.note = note;
    this.onChoose = onChoose;
    this.current = null;
    this.items = [];
  }

  render(collections) {
    this.items = collections;
    const rows = [...collections].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map((c) => {
      const button = el('button', { type: 'button', className: 'collection', dataset: { collection: c.name } },
        el('span', { className: 'name' }, c.name),
        el('span', { className: 'count', title: `${c.records} live records` }, String(c.records)),
        el('span', { className: 'policy' }, c.policy));
      if (c.name === this.current) button.setAttribute('aria-current', 'true');
      button.addEventListener('click', () => this.onChoose(c.name));
      return el('li', {}, button);
    });
    this.list.replaceChildren(...rows);
    this.note.textContent = collections.length === 0 ? 'No collections yet. Open one by name and write its first record.' : '';
  }

  /**
   * Moves a collection's record count by `delta` at once (a change arrived), without waiting for the next
   * refresh. False when the collection is not listed yet.
   */
  adjust(name, delta) {
    const item = this.items.find((c) => c.name === name);
    const button = [...this.list.querySelectorAll('button.collection')].find((b) => b.dataset.collection === name);
    if (!item || !button) return false;
    item.records = Math.max(0, item.records + delta);
    const count = button.querySelector('.count');
    count.textContent = String(item.records);
    count.title = `${item.records} live records`;
    return true;
  }

  select(name) {
    this.current = name;
    for (const button of this.list.querySelectorAll('button.collection')) {
      if (button.dataset.collection === name) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }
}

/** Who watches the open collection (presence members), oldest first; this page's own entry is marked. */
export class PresenceList {
  constructor(panel, list, count) {
    this.panel = panel;
    this.list = list;
    this.count = count;
  }

  render(members, selfId) {
    const sorted = [...members].sort((a, b) => compareIds(a.since, b.since) || compareIds(a.connectionId, b.connectionId));
    const rows = sorted.map((m) => {
      const self = m.connectionId === selfId;
      const name = typeof m.data?.name === 'string' ? m.data.name : '';
      const item = el('li', { dataset: { connectionId: m.connectionId, key: m.key ?? '' }, title: `connection ${m.connectionId}` },
        el('span', { className: 'who' },
          el('span', { className: 'name' }, name || (m.key ?? 'anonymous')),
          self ? el('span', { className: 'you' }, 'you') : null),
        el('span', { className: 'key' }, name ? `key ${m.key ?? 'anonymous'}` : ''),
        el('span', { className: 'since', title: m.since }, `since ${formatTime(m.since)}`));
      if (self) item.classList.add('self');
      return item;
    });
    this.list.replaceChildren(...rows);
    this.count.textContent = members.length ? String(members.length) : '';
    this.panel.hidden = false;
  }

  hide() {
    this.list.replaceChildren();
    this.panel.hidden = true;
  }
}

// A peer is as well as its worst collection.
const PEER_STATES = ['following', 'catching-up', 'copying', 'failing'];
const worstState = (collections) => collections.reduce((worst, c) =>
  (PEER_STATES.indexOf(c.state) > PEER_STATES.indexOf(worst) ? c.state : worst), 'following');

// The lag is as of the last contact with the peer: while it fails, that is all anyone knows.
function formatLag(changes, ms, state) {
  const age = ms >= 10_000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
  const lag = changes === 0 ? 'up to date' : `${changes} change${changes === 1 ? '' : 's'} behind · ${age}`;
  return state === 'failing' ? `last known: ${lag}` : lag;
}

/**
 * The sites this one replicates from (GET /api/v1/replication): per peer its state (the worst of its
 * collections) and its lag, summed over collections in changes and the largest in time; under it, each
 * collection with its own state, lag and last error.
 */
export class PeersPanel {
  constructor(panel, list, site, asOf) {
    this.panel = panel;
    this.list = list;
    this.site = site;
    this.asOf = asOf;
  }

  render(status) {
    const peers = status?.peers ?? [];
    if (peers.length === 0) {
      this.hide(); // replication is off: nothing to show
      return;
    }
    const rows = peers.map((peer) => {
      const collections = [...peer.collections].sort((a, b) => compareIds(a.collection, b.collection));
      const state = collections.length ? worstState(collections) : 'waiting';
      const changes = collections.reduce((sum, c) => sum + c.lagChanges, 0);
      const ms = collections.reduce((max, c) => Math.max(max, c.lagMs), 0);
      const details = collections.map((c) => el('li', { dataset: { collection: c.collection, state: c.state }, title: c.cursor ? `cursor ${c.cursor}` : '' },
        el('span', { className: 'collection-name' }, c.collection),
        el('span', { className: 'state' }, c.state),
        el('span', { className: 'lag' }, formatLag(c.lagChanges, c.lagMs, c.state)),
        c.lastError ? el('span', { className: 'last-error error', title: c.lastError }, c.lastError) : null));
      return el('li', { className: 'peer', dataset: { peer: peer.name, state }, title: peer.url },
        el('div', { className: 'peer-head' },
          el('span', { className: 'name' }, peer.name),
          el('span', { className: 'state' }, state),
          el('span', { className: 'lag' }, collections.length ? formatLag(changes, ms, state) : 'no collections yet')),
        details.length ? el('ul', { className: 'peer-collections' }, ...details) : null);
    });
    this.list.replaceChildren(...rows);
    this.site.textContent = status.site ? `at ${status.site}` : '';
    this.asOf.textContent = `as of ${new Date().toLocaleTimeString([], { hour12: false })}`;
    this.panel.hidden = false;
  }

  hide() {
    this.list.replaceChildren();
    this.panel.hidden = true;
  }
}

/**
 * The records of one collection, one row per live record (sorted by id), one column per field.
 * Rows are updated in place; the cells of the changed fields are highlighted briefly.
 */
export class RecordsTable {
  #table;
  #onSelect;
  #records = new Map(); // id → record
  #rows = new Map(); //    id → <tr>
  #fields = []; //         field columns, the most common first
  #overflow = false; //    whether an "other fields" column is shown

  constructor(table, onSelect) {
    this.#table = table;
    this.#onSelect = onSelect;
  }

  get size() { return this.#records.size; }

  record(id) { return this.#records.get(id); }

  clear() {
    this.#records.clear();
    this.#render();
  }

  /** Replaces everything with a snapshot: `records` is a Map id → { record, deleted }. */
  reset(records) {
    this.#records = new Map([...records.values()].filter((h) => !h.deleted).map((h) => [h.record.id, h.record]));
    this.#render();
  }

  /** A newer revision of a record arrived: show it, highlighting `changedFields` (the whole row if new). */
  upsert(record, changedFields) {
    const isNew = !this.#records.has(record.id);
    this.#records.set(record.id, record);
    if (!this.#overflow && Object.keys(record.data).some((f) => !this.#fields.includes(f))) {
      this.#render(); // a field without a column yet
    } else if (isNew) {
      const row = this.#row(record);
      this.#rows.set(record.id, row);
      this.#insertSorted(row, record.id);
    } else {
      this.#update(this.#rows.get(record.id), record);
    }
    const row = this.#rows.get(record.id);
    if (isNew) {
      highlight(row, 'added');
      return;
    }
    for (const field of changedFields) {
      const cell = this.#cellFor(row, field);
      if (cell) highlight(cell);
    }
  }

  remove(id) {
    this.#records.delete(id);
    this.#rows.get(id)?.remove();
    this.#rows.delete(id);
  }

  #cellFor(row, field) {
    for (const cell of row.cells) {
      if (cell.dataset.field === field) return cell;
    }
    return this.#overflow ? row.querySelector('td.other') : null;
  }

  #render() {
    // Columns for the fields most records have (ties by name); the rarest share the "other fields" column.
    const counts = new Map();
    for (const record of this.#records.values()) {
      for (const f of Object.keys(record.data)) counts.set(f, (counts.get(f) ?? 0) + 1);
    }
    const all = [...counts.keys()].sort((a, b) => counts.get(b) - counts.get(a) || compareIds(a, b));
    this.#fields = all.slice(0, MAX_FIELD_COLUMNS);
    this.#overflow = all.length > MAX_FIELD_COLUMNS;

    const head = el('tr', {},
      el('th', { className: 'id' }, 'id'),
      el('th', { className: 'num' }, 'rev'),
      ...this.#fields.map((f) => el('th', { title: f, dataset: { field: f } }, f)),
      this.#overflow ? el('th', {}, 'other fields') : null,
      el('th', {}, 'clock'),
      el('th', {}, 'updated'));
    this.#table.tHead.replaceChildren(head);

    this.#rows = new Map();
    const ids = [...this.#records.keys()].sort(compareIds);
    const rows = ids.map((id) => {
      const row = this.#row(this.#records.get(id));
      this.#rows.set(id, row);
      return row;
    });
    this.#table.tBodies[0].replaceChildren(...rows);
  }

  #row(record) {
    const data = record.data ?? {};
    const cells = [
      el('td', { className: 'id', title: record.id }, record.id),
      el('td', { className: 'num', dataset: { col: 'revision' } }, String(record.revision)),
    ];
    for (const field of this.#fields) {
      const present = Object.hasOwn(data, field);
      const text = present ? formatValue(data[field]) : '';
      const cell = el('td', { title: text, dataset: { field } }, text);
      if (!present) cell.classList.add('absent');
      else if (data[field] === null) cell.classList.add('null');
      cells.push(cell);
    }
    if (this.#overflow) {
      const rest = Object.keys(data).filter((f) => !this.#fields.includes(f)).sort()
        .map((f) => `${f}: ${formatValue(data[f])}`).join(', ');
      cells.push(el('td', { className: 'other', title: rest }, rest));
    }
    const clock = record.clock ? `v${record.clock.version} · ${record.clock.source}` : '';
    cells.push(el('td', { className: 'clock', title: record.clock?.timestamp ?? '' }, clock));
    cells.push(el('td', { className: 'time', title: record.updatedAt ?? '' }, formatTime(record.updatedAt)));
    const row = el('tr', { dataset: { id: record.id } }, ...cells);
    row.addEventListener('click', () => this.#onSelect(this.#records.get(record.id)));
    return row;
  }

  // Updates a row's cells in place, so that highlights still running on other cells keep going.
  #update(row, record) {
    const fresh = this.#row(record);
    [...row.cells].forEach((cell, i) => {
      const next = fresh.cells[i];
      if (cell.textContent !== next.textContent) cell.textContent = next.textContent;
      cell.title = next.title;
      const highlighted = cell.classList.contains('changed');
      cell.className = next.className;
      if (highlighted) cell.classList.add('changed');
    });
  }

  #insertSorted(row, id) {
    const body = this.#table.tBodies[0];
    for (const other of body.rows) {
      if (compareIds(other.dataset.id, id) > 0) {
        other.before(row);
        return;
      }
    }
    body.append(row);
  }
}

// Ids are ASCII: code-unit order is the order the API pages in. Also used for field names.
function compareIds(a, b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The last change events, newest first. */
export class ChangeFeed {
  constructor(table, empty) {
    this.body = table.tBodies[0];
    this.empty = empty;
  }

  clear() {
    this.body.replaceChildren();
    this.empty.hidden = false;
  }

  add(change, applied) {
    const fields = change.changedFields?.length ? change.changedFields.join(', ') : '—';
    const row = el('tr', { dataset: { seq: change.seq, id: change.id, kind: change.kind } },
      el('td', { className: 'time' }, new Date().toLocaleTimeString([], { hour12: false })),
      el('td', { className: 'seq', title: change.seq }, change.seq),
      el('td', { className: 'id', title: change.id }, change.id),
      el('td', {}, el('span', { className: `kind kind-${change.kind === 'delete' ? 'delete' : 'upsert'}` }, change.kind)),
      el('td', { className: 'num' }, String(change.revision)),
      el('td', { className: 'source' }, change.source),
      el('td', { className: 'fields', title: fields }, fields));
    if (!applied) {
      row.classList.add('ignored');
      row.title = 'Not applied: the table already holds this revision or a newer one.';
    }
    this.body.prepend(row);
    while (this.body.rows.length > FEED_LENGTH) this.body.lastElementChild.remove();
    this.empty.hidden = true;
    highlight(row, 'added');
  }
}

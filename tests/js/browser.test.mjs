// The dashboard at / in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core;
// no browser is ever downloaded), against a real gateway and Redis. Screenshots go to tests/js/artifacts/.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';
import { chromium } from 'playwright-core';
import { freePort, gatewayProject, keys, startGateway } from './harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without the networking flags Chromium keeps trying to reach Google's services from a closed network.
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 15_000;
const RESTART_WAIT_MS = 45_000;
const TEST_TIMEOUT_MS = 120_000;
const artifacts = join(dirname(fileURLToPath(import.meta.url)), 'artifacts');

let gw;
let browser;
let unique = 0;
let version = 0;

before(async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: run ./build.sh ensure-chromium (Debian's chromium package)`);
  mkdirSync(artifacts, { recursive: true });
  // A short change log, so that the resync test can get a position trimmed. The project folder is the
  // content root, so its wwwroot is served.
  gw = await startGateway({ Sync__ChangeLogMaxLength: '10' }, { contentRoot: gatewayProject });
  // playwright's launch() gives the browser a fresh temporary profile (--user-data-dir) and removes it.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
});

after(async () => {
  await browser?.close();
  await gw?.stop();
});

const collectionName = () => `web-${process.pid}-${++unique}`;

// --- HTTP, from Node ----------------------------------------------------------------------------------

async function call(method, path, body, base = gw.url) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': keys.writer },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await response.json();
  assert.ok(response.ok, `${method} ${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

const put = (c, id, data, base) => call('PUT', `/collections/${c}/records/${id}`, { version: ++version, data }, base);
const patch = (c, id, data, base) => call('PATCH', `/collections/${c}/records/${id}`, { version: ++version, data }, base);
const remove = (c, id, base) => call('DELETE', `/collections/${c}/records/${id}?version=${++version}`, undefined, base);

/** id → revision of every live record, read through the API. */
async function latestRevisions(c) {
  const revisions = {};
  let cursor = null;
  do {
    const page = await call('GET', `/collections/${c}/records?limit=1000${cursor ? `&cursor=${cursor}` : ''}`);
    for (const r of page.items) revisions[r.id] = r.revision;
    cursor = page.nextCursor;
  } while (cursor);
  return revisions;
}

// --- the page -----------------------------------------------------------------------------------------

/** A fresh browser context (own session storage) with a page that records script errors and sockets. */
async function openPage(t) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  const sockets = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text()); });
  page.on('websocket', (ws) => sockets.push(ws.url()));
  t.after(async () => {
    if (!t.passed) await shot(page, `${t.name}-failure`).catch(() => {});
    await context.close();
  });
  return { page, problems, sockets };
}

function shot(page, name) {
  return page.screenshot({ path: join(artifacts, `${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.png`), fullPage: true });
}

async function signIn(page, key = keys.writer, query = '', base = gw.url) {
  const response = await page.goto(`${base}/${query}`);
  assert.equal(response.status(), 200, `GET / answered ${response.status()}: is app.UseDashboard() in Program.cs?`);
  await page.locator('#key-input').fill(key);
  await page.locator('#key-submit').click();
}

async function signedIn(page, query = '', key = keys.writer, base = gw.url) {
  await signIn(page, key, query, base);
  await page.locator('#app').waitFor({ state: 'visible', timeout: WAIT_MS });
}

async function choose(page, c) {
  await page.locator(`#collections button[data-collection="${c}"]`).click({ timeout: WAIT_MS });
  await until(page, (name) => document.getElementById('records-title').textContent === name
    && document.getElementById('records-message').textContent !== 'Loading…', c, `${c} to load`);
}

/** Waits (bounded) until `predicate(arg)` is true in the page. */
async function until(page, predicate, arg, what, timeout = WAIT_MS) {
  try {
    await page.waitForFunction(predicate, arg, { timeout });
  } catch (error) {
    throw new Error(`timed out after ${timeout} ms waiting for ${what}`, { cause: error });
  }
}

const state = (page) => page.locator('#connection').getAttribute('data-state');
const untilState = (page, name, timeout = WAIT_MS) =>
  until(page, (s) => document.getElementById('connection').dataset.state === s, name, `the connection state "${name}"`, timeout);

const cellText = (page, id, field) => page.locator(`#records tbody tr[data-id="${id}"] td[data-field="${field}"]`).textContent({ timeout: WAIT_MS });
const untilCell = (page, id, field, text) => until(page, ([i, f, x]) =>
  [...document.querySelectorAll('#records tbody tr')].find((r) => r.dataset.id === i)
    ?.querySelector(`td[data-field="${f}"]`)?.textContent === x, [id, field, text], `${id}.${field} to show ${text}`);

/** The table shows exactly these records at these revisions. */
const untilTableIs = (page, revisions, timeout = WAIT_MS) => until(page, (expected) => {
  const rows = [...document.querySelectorAll('#records tbody tr')];
  const shown = Object.fromEntries(rows.map((r) => [r.dataset.id, Number(r.querySelector('td[data-col="revision"]').textContent)]));
  return JSON.stringify(shown, Object.keys(shown).sort()) === JSON.stringify(expected, Object.keys(expected).sort());
}, revisions, `the table to show ${JSON.stringify(revisions)}`, timeout);

// --- tests --------------------------------------------------------------------------------------------

test('the dashboard asks for an API key, refuses a wrong one and keeps a good one for the tab', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { page, problems } = await openPage(t);
  await signIn(page, 'not-a-key-000000000000');
  await until(page, () => /401/.test(document.getElementById('key-error').textContent), null, 'the key to be refused');
  assert.equal(await page.locator('#app').isVisible(), false);
  await shot(page, 'key-form-refused');

  await page.locator('#key-input').fill(keys.writer);
  await page.locator('#key-submit').click();
  await page.locator('#app').waitFor({ state: 'visible', timeout: WAIT_MS });
  await untilState(page, 'connected');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('redissync.apiKey')), keys.writer);

  await page.reload();
  await page.locator('#app').waitFor({ state: 'visible', timeout: WAIT_MS });
  assert.equal(await page.locator('#key-panel').isVisible(), false);
  await untilState(page, 'connected');
  assert.deepEqual(problems, []);
});

test('records update in place as changes arrive, with the changed fields highlighted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  await put(c, 'r1', { name: 'Ada', score: 1 });
  await put(c, 'r2', { name: '<b>Bob</b> <img src=x>', score: 2 });
  const { page, problems, sockets } = await openPage(t);
  await signedIn(page);
  await choose(page, c);
  assert.equal(await cellText(page, 'r1', 'name'), 'Ada');
  // User data is text, never markup.
  assert.equal(await cellText(page, 'r2', 'name'), '<b>Bob</b> <img src=x>');
  assert.equal(await page.locator('#records tbody b, #records tbody img').count(), 0);
  assert.equal(await page.locator('#collections button[aria-current="true"]').getAttribute('data-collection'), c);

  const row = await page.locator('#records tbody tr[data-id="r1"]').elementHandle();
  await patch(c, 'r1', { score: 42 });
  await untilCell(page, 'r1', 'score', '42');
  await page.locator('#records tbody tr[data-id="r1"] td[data-field="score"].changed').waitFor({ timeout: WAIT_MS });
  assert.equal(await page.locator('#records tbody tr[data-id="r1"] td[data-field="name"].changed').count(), 0, 'an unchanged field is not highlighted');
  assert.equal(await page.locator('#records tbody tr[data-id="r1"] td[data-col="revision"]').textContent(), '2');
  assert.ok(await row.evaluate((r) => r.isConnected), 'the row was updated in place, not rebuilt');
  await shot(page, 'records-changed-field');

  // A new record joins in id order; a deleted one leaves; the feed shows each change, newest first.
  await put(c, 'r0', { name: 'Zed', score: 0 });
  await until(page, () => [...document.querySelectorAll('#records tbody tr')].map((r) => r.dataset.id).join() === 'r0,r1,r2', null, 'r0 to appear first');
  await remove(c, 'r2');
  await until(page, () => ![...document.querySelectorAll('#records tbody tr')].some((r) => r.dataset.id === 'r2'), null, 'r2 to leave the table');
  const feed = await page.locator('#feed tbody tr').evaluateAll((rows) => rows.map((r) => ({
    id: r.dataset.id, kind: r.dataset.kind, fields: r.querySelector('td.fields').textContent })));
  assert.deepEqual(feed, [
    { id: 'r2', kind: 'delete', fields: 'name, score' },
    { id: 'r0', kind: 'upsert', fields: 'name, score' },
    { id: 'r1', kind: 'upsert', fields: 'score' },
  ]);
  assert.equal(await page.locator('#records-meta').textContent(), '2 live records');
  assert.ok(sockets.some((url) => url.includes('/hubs/sync')), 'SignalR used a WebSocket');
  assert.deepEqual(problems, []);
});

test('the write form PUTs a record exactly as typed and shows the outcome', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  await put(c, 'seed', { n: 0 });
  const { page, problems } = await openPage(t);
  await signedIn(page);
  await choose(page, c);

  await page.locator('#write-id').fill('w1');
  await page.locator('#write-version').fill('5');
  await page.locator('#write-data').fill('{ "big": 12345678901234567890, "name": "Grace" }');
  await page.locator('#write-submit').click();
  await until(page, () => document.getElementById('write-result').dataset.kind === 'ok', null, 'the write to succeed');
  assert.match(await page.locator('#write-result').textContent(), /^applied \(created\) · w1 revision 1/);
  await untilCell(page, 'w1', 'name', 'Grace');
  // Sent verbatim: the stored number keeps every digit (JSON.parse would have rounded it).
  const stored = await (await fetch(`${gw.url}/api/v1/collections/${c}/records/w1`, { headers: { 'X-Api-Key': keys.writer } })).text();
  assert.match(stored, /"big":12345678901234567890/);
  assert.equal(await page.locator('#write-version').inputValue(), '6', 'the next version is offered');

  await page.locator('#write-data').fill('{ "name": ');
  await page.locator('#write-submit').click();
  await until(page, () => document.getElementById('write-result').dataset.kind === 'error', null, 'the bad JSON to be refused');
  assert.match(await page.locator('#write-result').textContent(), /not valid JSON/);

  // The same clock with a different value: the gateway's 409 problem is shown.
  await page.locator('#write-version').fill('5');
  await page.locator('#write-data').fill('{ "name": "Other" }');
  await page.locator('#write-submit').click();
  await until(page, () => document.getElementById('write-result').dataset.kind === 'error', null, 'the conflict to be shown');
  assert.match(await page.locator('#write-result').textContent(), /conflict/);
  assert.equal(await cellText(page, 'w1', 'name'), 'Grace');
  assert.deepEqual(problems, []);
});

test('after a gateway restart the page reconnects, resumes from its last seq and ends with every latest revision', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  for (const id of ['a', 'b', 'c', 'd']) await put(c, id, { step: 0 });
  const { page, problems } = await openPage(t);
  await signedIn(page);
  await choose(page, c);
  await untilState(page, 'connected');

  await patch(c, 'a', { step: 1 }); // seen live before the restart
  await untilCell(page, 'a', 'step', '1');

  await gw.stopGateway();
  await untilState(page, 'reconnecting');
  await shot(page, 'restart-reconnecting');

  // While the page's gateway is down, another instance on the same Redis takes writes.
  const other = await gw.startInstance();
  try {
    await patch(c, 'b', { step: 2 }, other.url);
    await remove(c, 'c', other.url);
    await put(c, 'e', { step: 2 }, other.url);
    await patch(c, 'a', { step: 2, extra: 'while down' }, other.url);
  } finally {
    await other.stop();
  }
  assert.equal(await state(page), 'reconnecting');

  await gw.startGateway(); // the same port
  await untilState(page, 'resumed', RESTART_WAIT_MS);
  assert.match(await page.locator('#connection-detail').textContent(), /replayed 4 missed changes/);

  // Right after it is back.
  await patch(c, 'd', { step: 3 });
  await put(c, 'f', { step: 3 });

  const expected = await latestRevisions(c);
  assert.deepEqual(Object.keys(expected).sort(), ['a', 'b', 'd', 'e', 'f']);
  await untilTableIs(page, expected);
  assert.equal(await cellText(page, 'a', 'extra'), 'while down');
  assert.equal(await cellText(page, 'd', 'step'), '3');
  await shot(page, 'restart-resumed');
  assert.deepEqual(problems, []);
});

test('resuming past the retained change log reloads the snapshot and shows resync', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  await put(c, 'first', { n: 0 });
  const { page, problems } = await openPage(t);
  await signedIn(page);
  await choose(page, c);
  await untilState(page, 'connected');

  await gw.stopGateway();
  await untilState(page, 'reconnecting');
  // 400 changes while it is down: the log (Sync:ChangeLogMaxLength 10) drops the page's position.
  const other = await gw.startInstance();
  try {
    const records = Array.from({ length: 400 }, (_, i) => ({ id: `r${String(i).padStart(3, '0')}`, op: 'put', version: ++version, data: { i } }));
    await call('POST', `/collections/${c}/records`, { records }, other.url);
    await remove(c, 'first', other.url);
  } finally {
    await other.stop();
  }

  await gw.startGateway();
  await untilState(page, 'resync', RESTART_WAIT_MS);
  const expected = await latestRevisions(c);
  assert.equal(Object.keys(expected).length, 400);
  await untilTableIs(page, expected);
  assert.equal(await page.locator('#records-meta').textContent(), '400 live records');

  await patch(c, 'r123', { i: 'live again' }); // and it is subscribed again
  await untilCell(page, 'r123', 'i', 'live again');
  await shot(page, 'resync-reloaded');
  assert.deepEqual(problems, []);
});

/** The presence list as the page shows it: [{ name, key, self }], oldest first. */
const watching = (page) => page.locator('#presence li').evaluateAll((items) => items.map((li) => ({
  name: li.querySelector('.name').textContent, key: li.dataset.key, self: li.classList.contains('self') })));

test('the dashboard shows who else watches the open collection, with the name each one set', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  await put(c, 'r1', { n: 1 });
  const first = await openPage(t);
  await signedIn(first.page);
  await choose(first.page, c);
  await until(first.page, () => document.querySelectorAll('#presence li').length === 1, null, 'the page to list itself');
  assert.deepEqual(await watching(first.page), [{ name: 'js-writer', key: 'js-writer', self: true }]);

  const second = await openPage(t);
  await signedIn(second.page);
  await choose(second.page, c);
  await second.page.locator('#name-input').fill('Ana');
  await second.page.locator('#name-submit').click();
  await until(first.page, () => [...document.querySelectorAll('#presence li .name')].some((n) => n.textContent === 'Ana'), null, 'Ana to be listed');
  assert.deepEqual(await watching(first.page), [{ name: 'js-writer', key: 'js-writer', self: true }, { name: 'Ana', key: 'js-writer', self: false }]);
  assert.match(await first.page.locator('#presence li:not(.self) .key').textContent(), /key js-writer/);
  assert.equal(await first.page.locator('#presence-count').textContent(), '2');

  // A service on another gateway instance joins and names itself; then it leaves.
  const instance = await gw.startInstance();
  const service = new signalR.HubConnectionBuilder()
    .withUrl(`${instance.url}/hubs/sync`, { accessTokenFactory: () => keys.writer })
    .configureLogging(signalR.LogLevel.None)
    .build();
  try {
    await service.start();
    await service.invoke('Subscribe', c, null);
    await service.invoke('SetPresence', c, { name: 'Importer' });
    await until(first.page, () => [...document.querySelectorAll('#presence li .name')].some((n) => n.textContent === 'Importer'), null, 'the service to be listed');
    await until(second.page, () => document.querySelectorAll('#presence li').length === 3, null, 'the second page to list three');
    await shot(first.page, 'presence-three-watchers');
    await service.stop();
    await until(first.page, () => document.querySelectorAll('#presence li').length === 2, null, 'the service to leave');
  } finally {
    await service.stop();
    await instance.stop();
  }

  // The name is kept for the tab: after a reload the page names itself again.
  await second.page.reload();
  await until(first.page, () => {
    const names = [...document.querySelectorAll('#presence li .name')].map((n) => n.textContent);
    return names.length === 2 && names.includes('Ana');
  }, null, 'Ana to be back after her reload');
  await second.page.context().close();
  await until(first.page, () => document.querySelectorAll('#presence li').length === 1, null, 'Ana to leave with her page');
  assert.deepEqual(first.problems, []);
  assert.deepEqual(second.problems, []);
});

test('over MessagePack (?protocol=messagepack) the page shows changes in place and the sidebar counts them at once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const c = collectionName();
  await put(c, 'r1', { name: 'Ada', n: 1 });
  await put(c, 'r2', { name: 'Bob', n: 2 });
  const { page, problems } = await openPage(t);
  const sent = [];
  let binaryFrames = 0;
  page.on('websocket', (ws) => {
    ws.on('framesent', (frame) => sent.push(typeof frame.payload === 'string' ? frame.payload : ''));
    ws.on('framereceived', (frame) => { if (typeof frame.payload !== 'string') binaryFrames++; });
  });
  await signedIn(page, '?protocol=messagepack');
  await choose(page, c);
  await untilState(page, 'connected');
  assert.equal(await page.locator('#protocol').inputValue(), 'messagepack');
  assert.ok(sent.some((p) => p.includes('"protocol":"messagepack"')), 'the SignalR handshake asked for MessagePack');
  assert.match(await page.locator('#connection-detail').textContent(), /MessagePack/);
  const count = () => page.locator(`#collections button[data-collection="${c}"] .count`).textContent();
  assert.equal(await count(), '2');

  await patch(c, 'r1', { n: 42, pi: 3.141592653589793 });
  await untilCell(page, 'r1', 'n', '42');
  assert.equal(await cellText(page, 'r1', 'pi'), '3.141592653589793');
  assert.ok(binaryFrames > 0, 'changes arrived as binary (MessagePack) frames');

  // The count changes in the same moment as the table: no refresh from the API in between.
  await put(c, 'r3', { name: 'Cy', n: 3 });
  const atArrival = await page.waitForFunction((collection) => {
    const row = [...document.querySelectorAll('#records tbody tr')].find((r) => r.dataset.id === 'r3');
    return row && document.querySelector(`#collections button[data-collection="${collection}"] .count`).textContent;
  }, c, { timeout: WAIT_MS });
  assert.equal(await atArrival.jsonValue(), '3');
  await remove(c, 'r2');
  await until(page, (collection) => ![...document.querySelectorAll('#records tbody tr')].some((r) => r.dataset.id === 'r2')
    && document.querySelector(`#collections button[data-collection="${collection}"] .count`).textContent === '2', c, 'r2 to leave and the count to drop');
  assert.deepEqual(await watching(page), [{ name: 'js-writer', key: 'js-writer', self: true }]);
  await shot(page, 'messagepack-records');

  // Switching the protocol back reloads the page on JSON, on the same collection.
  await page.locator('#protocol').selectOption('json');
  await page.waitForURL(/protocol=json/, { timeout: WAIT_MS });
  await until(page, (name) => document.getElementById('records-title').textContent === name, c, 'the collection to load again');
  await untilCell(page, 'r1', 'n', '42');
  assert.deepEqual(problems, []);
});

// --- two sites ------------------------------------------------------------------------------------------

/** The replication panel as the page shows it: [{ peer, state, collections: { name: state } }]. */
const peersShown = (page) => page.locator('#peers li.peer').evaluateAll((items) => items.map((li) => ({
  peer: li.dataset.peer,
  state: li.dataset.state,
  collections: Object.fromEntries([...li.querySelectorAll('.peer-collections li')].map((c) => [c.dataset.collection, c.dataset.state])),
})));

test('the dashboard shows the sites it replicates from and their lag, and nothing to a key that may not see them', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // Two sites, each its own redis-server and gateway, each pulling from the other with a key the other issued.
  const peerKey = (site) => `js-peer-key-of-${site}-00000`;
  const ports = { east: await freePort(), west: await freePort() };
  const site = (name, peer) => ({
    Replication__Site: name,
    Replication__PollInterval: '00:00:00.200',
    Replication__Peers__0__Name: peer,
    Replication__Peers__0__Url: `http://127.0.0.1:${ports[peer]}`,
    Replication__Peers__0__ApiKey: peerKey(peer),
    Auth__Keys__2__Name: 'peer-sites', Auth__Keys__2__Key: peerKey(name), Auth__Keys__2__Replicate: 'true',
  });
  const [east, west] = await Promise.all([
    startGateway(site('east', 'west'), { contentRoot: gatewayProject, port: ports.east }),
    startGateway(site('west', 'east'), { port: ports.west }),
  ]);
  t.after(async () => { await Promise.all([east.stop(), west.stop()]); });

  const c = collectionName();
  await put(c, 'r1', { n: 1 }, west.url);
  const { page, problems } = await openPage(t);
  await signedIn(page, '', keys.writer, east.url);
  await until(page, (collection) => {
    const peer = document.querySelector('#peers li.peer[data-peer="west"]');
    return peer?.dataset.state === 'following'
      && peer.querySelector(`.peer-collections li[data-collection="${collection}"]`)?.dataset.state === 'following';
  }, c, 'west and its collection to be shown as followed');
  assert.equal(await page.locator('#peers-site').textContent(), 'at east');
  assert.equal(await page.locator(`#peers li[data-peer="west"] .peer-collections li[data-collection="${c}"] .lag`).textContent(), 'up to date');
  await shot(page, 'peers-following');

  // West goes away: the panel follows east's view of it within a few seconds, with the error.
  await west.stopGateway();
  await until(page, (collection) => document.querySelector('#peers li.peer[data-peer="west"]')?.dataset.state === 'failing'
    && document.querySelector(`#peers .peer-collections li[data-collection="${collection}"] .last-error`)?.textContent.length > 0, c, 'west to be shown failing');
  await shot(page, 'peers-failing');
  await west.startGateway();
  await put(c, 'r2', { n: 2 }, west.url);
  await until(page, () => document.querySelector('#peers li.peer[data-peer="west"]')?.dataset.state === 'following'
    && !document.querySelector('#peers .last-error'), null, 'west to be followed again');
  assert.deepEqual((await peersShown(page)).map((p) => p.peer), ['west']);
  assert.deepEqual(problems, []);

  // A key that may not see replication (read on "orders" only): the panel stays hidden, and nothing says so.
  const limited = await openPage(t);
  const refused = limited.page.waitForResponse((r) => r.url().endsWith('/api/v1/replication'), { timeout: WAIT_MS });
  await signedIn(limited.page, '', keys.ordersOnly, east.url);
  assert.equal((await refused).status(), 403);
  assert.equal(await limited.page.locator('#peers-panel').isVisible(), false);
  assert.equal(await limited.page.locator('#records-error').isVisible(), false);
  assert.deepEqual(limited.problems, []);
});

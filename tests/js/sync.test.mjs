// The gateway through the official SignalR JavaScript client (@microsoft/signalr), as a browser or a
// Node service would use it: subscribe, receive, lose the connection, resume from the last seq.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { keys, startGateway } from './harness.mjs';

const WAIT_MS = 15_000;
let gw;
let unique = 0;

before(async () => { gw = await startGateway({ Sync__ChangeLogMaxLength: '10' }); });
after(async () => { await gw?.stop(); });

const collectionName = () => `js-${process.pid}-${++unique}`;

function connect(key = keys.writer) {
  return new signalR.HubConnectionBuilder()
    .withUrl(`${gw.url}/hubs/sync`, { accessTokenFactory: () => key })
    .configureLogging(signalR.LogLevel.None)
    .build();
}

/** Collects `change` events; `next(n)` resolves with the next n of them or rejects after a timeout. */
function changeQueue(connection) {
  const received = [];
  let waiter = null;
  connection.on('change', (change) => {
    received.push(change);
    if (waiter && received.length >= waiter.n) waiter.resolve(received.splice(0, waiter.n));
  });
  return {
    next(n) {
      if (received.length >= n) return Promise.resolve(received.splice(0, n));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${n} changes within ${WAIT_MS} ms`)), WAIT_MS);
        waiter = { n, resolve: (v) => { clearTimeout(timer); waiter = null; resolve(v); } };
      });
    },
    get pending() { return received.length; },
  };
}

let version = 0;
async function put(collection, id, data, key = keys.writer) {
  const response = await fetch(`${gw.url}/api/v1/collections/${collection}/records/${id}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': key },
    body: JSON.stringify({ version: ++version, data }),
  });
  assert.ok(response.ok, `PUT answered ${response.status}`);
  return (await response.json()).seq;
}

test('a subscriber receives each change with its merged record', async () => {
  const c = collectionName();
  const connection = connect();
  const changes = changeQueue(connection);
  await connection.start();
  try {
    const result = await connection.invoke('Subscribe', c, null);
    assert.equal(result.collection, c);
    assert.equal(result.resyncRequired, false);

    const seq = await put(c, 'r1', { name: 'Ada', score: 12345678901234567890 });
    const [change] = await changes.next(1);
    assert.equal(change.seq, seq);
    assert.equal(change.kind, 'upsert');
    assert.equal(change.id, 'r1');
    assert.equal(change.source, 'js');
    assert.deepEqual(change.changedFields, ['name', 'score']);
    assert.equal(change.record.data.name, 'Ada');
    assert.equal(change.record.revision, 1);
  } finally {
    await connection.stop();
  }
});

test('a client that drops and resumes from its last seq gets exactly the changes it missed', async () => {
  const c = collectionName();
  const first = connect();
  const firstChanges = changeQueue(first);
  await first.start();
  await first.invoke('Subscribe', c, null);
  await put(c, 'a', { n: 1 });
  await put(c, 'b', { n: 2 });
  const seen = await firstChanges.next(2);
  const lastSeq = seen.at(-1).seq;
  await first.stop(); // the connection is gone; writes go on

  const missed = [];
  for (let i = 0; i < 5; i++) missed.push(await put(c, `m${i}`, { i }));

  const second = connect();
  const secondChanges = changeQueue(second);
  await second.start();
  try {
    const result = await second.invoke('Subscribe', c, lastSeq);
    assert.equal(result.replayed, 5);
    assert.equal(result.resyncRequired, false);
    assert.deepEqual((await secondChanges.next(5)).map((ch) => ch.seq), missed);

    const live = await put(c, 'live', { after: true });
    assert.deepEqual((await secondChanges.next(1)).map((ch) => ch.seq), [live]);
    assert.equal(secondChanges.pending, 0);
  } finally {
    await second.stop();
  }
});

test('resuming from a position the change log no longer holds asks for a resync', async () => {
  const c = collectionName();
  const oldest = await put(c, 'r0', { i: 0 });
  const records = Array.from({ length: 400 }, (_, i) => ({ id: `r${i + 1}`, op: 'put', version: ++version, data: { i } }));
  const response = await fetch(`${gw.url}/api/v1/collections/${c}/records`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Api-Key': keys.writer },
    body: JSON.stringify({ records }),
  });
  assert.equal(response.status, 200);

  const connection = connect();
  await connection.start();
  try {
    const result = await connection.invoke('Subscribe', c, oldest);
    assert.equal(result.resyncRequired, true);
    assert.equal(result.replayed, 0);
  } finally {
    await connection.stop();
  }
});

test('subscribing outside the key\'s collections is refused with a clear error', async () => {
  const connection = connect(keys.ordersOnly);
  await connection.start();
  try {
    await assert.rejects(connection.invoke('Subscribe', 'customers', null), /forbidden/);
    const ok = await connection.invoke('Subscribe', 'orders', null);
    assert.equal(ok.collection, 'orders');
  } finally {
    await connection.stop();
  }
});

test('a hub call of the wrong shape is rejected and the connection keeps working', async () => {
  const connection = connect();
  await connection.start();
  try {
    await assert.rejects(connection.invoke('Subscribe', 42, null));
    await assert.rejects(connection.invoke('Subscribe', 'Not Valid', null), /validation/);
    await assert.rejects(connection.invoke('Subscribe', collectionName(), 'not-a-seq'), /validation/);
    const ok = await connection.invoke('Subscribe', collectionName(), null);
    assert.equal(ok.replayed, 0);
  } finally {
    await connection.stop();
  }
});

test('connecting without a valid key fails', async () => {
  await assert.rejects(connect('wrong-key-000000000000').start());
});

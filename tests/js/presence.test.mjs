// Signals and presence through the official JavaScript clients, JSON and MessagePack
// (@microsoft/signalr-protocol-msgpack), on two gateway instances that share one Redis.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';
import { keys, startGateway } from './harness.mjs';

const WAIT_MS = 15_000;
let gw;
let second;
let unique = 0;

before(async () => {
  gw = await startGateway();
  second = await gw.startInstance();
});
after(async () => { await gw?.stop(); });

const collectionName = () => `pjs-${process.pid}-${++unique}`;

/** A started connection to `url` whose `presence` and `signal` messages queue up for `next(kind)`. */
async function connect(url, { messagePack = false, key = keys.writer } = {}) {
  const builder = new signalR.HubConnectionBuilder()
    .withUrl(`${url}/hubs/sync`, { accessTokenFactory: () => key })
    .configureLogging(signalR.LogLevel.None);
  if (messagePack) builder.withHubProtocol(new MessagePackHubProtocol());
  const connection = builder.build();
  const queues = { signal: [], presence: [] };
  const waiters = { signal: [], presence: [] };
  for (const kind of Object.keys(queues)) {
    connection.on(kind, (message) => {
      const waiter = waiters[kind].shift();
      if (waiter) waiter(message);
      else queues[kind].push(message);
    });
  }
  await connection.start();
  return {
    connection,
    get id() { return connection.connectionId; },
    next(kind) {
      if (queues[kind].length) return Promise.resolve(queues[kind].shift());
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${kind} message within ${WAIT_MS} ms`)), WAIT_MS);
        waiters[kind].push((message) => { clearTimeout(timer); resolve(message); });
      });
    },
  };
}

/** The server's message of a failed invocation ("…HubException: code: …" → "code: …"). */
async function failure(promise) {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(error, 'the call was expected to fail');
  return String(error.message).replace(/^.*HubException: /, '');
}

test('a signal goes from a JSON client on one instance to a MessagePack client on the other, and back', async () => {
  const c = collectionName();
  const json = await connect(gw.url);
  const messagePack = await connect(second.url, { messagePack: true });
  try {
    await json.connection.invoke('Subscribe', c, null);
    await messagePack.connection.invoke('Subscribe', c, null);

    const payload = { editing: 'c-42', cursor: { line: 3, column: 14.5 }, tags: ['a', null, true] };
    assert.equal(await json.connection.invoke('Signal', c, payload), null);
    const received = await messagePack.next('signal');
    assert.deepEqual(received, { collection: c, from: { connectionId: json.id, key: 'js-writer' }, payload });

    assert.equal(await messagePack.connection.invoke('Signal', c, 'typing'), null);
    assert.deepEqual(await json.next('signal'), { collection: c, from: { connectionId: messagePack.id, key: 'js-writer' }, payload: 'typing' });

    assert.match(await failure(json.connection.invoke('Signal', c, 'x'.repeat(4095))), /^payload-too-large:/);
    assert.match(await failure(messagePack.connection.invoke('Signal', 'Bad Name', 1)), /^validation:/);
  } finally {
    await json.connection.stop();
    await messagePack.connection.stop();
  }
});

test('presence: join, update and leave cross instances and protocols; Presence() lists everyone', async () => {
  const c = collectionName();
  const watcher = await connect(gw.url, { messagePack: true });
  const member = await connect(second.url);
  try {
    await watcher.connection.invoke('Subscribe', c, null);
    await member.connection.invoke('Subscribe', c, null);
    const memberId = member.id;

    const join = await watcher.next('presence');
    assert.equal(join.collection, c);
    assert.equal(join.action, 'join');
    assert.deepEqual({ ...join.member, since: undefined }, { connectionId: memberId, key: 'js-writer', data: null, since: undefined });
    assert.match(join.member.since, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    assert.equal(await member.connection.invoke('SetPresence', c, { name: 'Ana' }), null);
    for (const client of [watcher, member]) {
      const update = await client.next('presence');
      assert.equal(update.action, 'update');
      assert.deepEqual(update.member.data, { name: 'Ana' });
    }

    const list = await watcher.connection.invoke('Presence', c);
    assert.equal(list.collection, c);
    assert.deepEqual(list.members.map((m) => m.connectionId).sort(), [watcher.id, memberId].sort());
    const ordered = [...list.members].sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.connectionId < b.connectionId ? -1 : 1));
    assert.deepEqual(list.members, ordered, 'ordered by since, then connectionId');
    assert.deepEqual(list.members.find((m) => m.connectionId === memberId).data, { name: 'Ana' });
    assert.deepEqual(await member.connection.invoke('Presence', c), list);

    await member.connection.stop();
    const leave = await watcher.next('presence');
    assert.equal(leave.action, 'leave');
    assert.equal(leave.member.connectionId, memberId);
    assert.deepEqual((await watcher.connection.invoke('Presence', c)).members.map((m) => m.connectionId), [watcher.id]);

    assert.match(await failure(watcher.connection.invoke('SetPresence', collectionName(), { name: 'x' })), /^validation:/);
  } finally {
    await watcher.connection.stop();
    await member.connection.stop();
  }
});

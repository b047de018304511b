// Keeps one collection in sync through the SignalR hub (/hubs/sync), following the contract's recipe:
// load the records (keeping the first page's asOf), Subscribe(collection, asOf) so that nothing between
// the two is missed, apply a change only if its revision is newer than the one held, resume from the
// last applied seq after a reconnect, and reload everything when the gateway asks for a resync.
//
// It also keeps who else watches the collection (presence): the members listed by Presence() after each
// subscription, then kept current by the hub's presence events, and this page's own presence data.
//
// State names shown to the user: connecting, connected, reconnecting, resumed, resync.
import { ApiError } from './api.js';

/** The hub protocols the page can speak (?protocol=); JSON is the default. */
export const PROTOCOLS = { json: 'JSON', messagepack: 'MessagePack' };

const RETRY_DELAYS_MS = [0, 500, 1000, 2000, 3000];
const retryDelay = (attempt) => RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)];
const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** True when SignalR failed because the key was refused (401 on negotiate). */
function unauthorized(error) {
  return error?.statusCode === 401 || /\b401\b/.test(String(error?.message ?? ''));
}

/** The server's message of a failed hub call ("…HubException: forbidden: …" → "forbidden: …"). */
function hubMessage(error) {
  const text = String(error?.message ?? error);
  const at = text.indexOf('HubException: ');
  return at >= 0 ? text.slice(at + 'HubException: '.length) : text;
}

export class LiveCollection {
  #api;
  #events;
  #hub;
  #collection = null;
  #records = new Map(); // id → { revision, deleted, record }; deleted ones stay, so an older replay cannot revive them
  #last = null; //         seq of the last change applied (or the snapshot's asOf): where a resume continues
  #generation = 0; //      bumped by every (re)load and collection switch; stale async work checks it and stops
  #loading = false; //     changes that arrive while the snapshot loads wait in #buffer
  #buffer = [];
  #subscribed = false;
  #stopped = false;
  #members = new Map(); // connectionId → member of the open collection
  #presenceEvents = null; // while Presence() runs, events wait here, to be applied over its answer
  #presenceData = null; // what this page says about itself, sent again after every (re)subscription

  /**
   * @param api      from createApi()
   * @param getKey   returns the API key (sent as the SignalR access token)
   * @param protocol 'json' or 'messagepack'
   * @param events   { state(name, detail), snapshot(collection, records, info), change(event, applied, delta),
   *                   presence(members, selfId), problem(message), unauthorized() }
   *                   (delta: how the number of live records changed, or null when not known)
   */
  constructor({ api, getKey, protocol = 'json', events }) {
    const signalR = globalThis.signalR;
    if (!signalR) throw new Error('The SignalR client (lib/signalr/signalr.min.js) did not load: build the gateway project, which fetches it from npm.');
    this.#api = api;
    this.#events = events;
    const builder = new signalR.HubConnectionBuilder()
      .withUrl('hubs/sync', { accessTokenFactory: getKey });
    if (protocol === 'messagepack') {
      const msgpack = signalR.protocols?.msgpack;
      if (!msgpack) throw new Error('The MessagePack protocol (lib/signalr/signalr-protocol-msgpack.min.js) did not load: build the gateway project, which fetches it from npm.');
      builder.withHubProtocol(new msgpack.MessagePackHubProtocol());
    }
    this.#hub = builder
      // Never give up: a gateway restart or a long outage ends in a resume, not in a dead page.
      .withAutomaticReconnect({ nextRetryDelayInMilliseconds: (context) => retryDelay(context.previousRetryCount) })
      .configureLogging(signalR.LogLevel.Warning)
      .build();
    this.#hub.on('change', (change) => this.#onChange(change));
    this.#hub.on('resync', (message) => this.#onResync(message));
    this.#hub.on('presence', (message) => this.#onPresence(message));
    this.#hub.onreconnecting(() => this.#events.state('reconnecting', 'connection lost, retrying'));
    this.#hub.onreconnected(() => this.#resume());
    // Closed for good (e.g. the server closed it without allowing a reconnect): start over ourselves.
    this.#hub.onclose(() => { if (!this.#stopped) this.#restart(); });
  }

  get collection() { return this.#collection; }

  /** Says who this page is to the collection's other watchers, e.g. { name: 'Ana' }; kept across reconnects. */
  async setPresence(data) {
    this.#presenceData = data;
    if (this.#subscribed && this.#hub.state === 'Connected') await this.#hub.invoke('SetPresence', this.#collection, data);
  }

  async start() {
    this.#events.state('connecting', '');
    if (!(await this.#connect())) return;
    this.#events.state('connected', 'live');
    if (this.#collection) await this.#load(null);
  }

  async stop() {
    this.#stopped = true;
    await this.#hub.stop();
  }

  /** Shows `collection` from now on: loads its records and subscribes to its changes. */
  async open(collection) {
    const previous = this.#collection;
    if (previous === collection) return;
    this.#collection = collection;
    this.#generation++;
    this.#records = new Map();
    this.#last = null;
    this.#subscribed = false;
    this.#members = new Map();
    this.#showPresence();
    if (this.#hub.state !== 'Connected') return; // start() or the reconnect loads it
    if (previous) this.#hub.invoke('Unsubscribe', previous).catch(() => {});
    await this.#load(null);
  }

  // Starts the connection, retrying while the gateway is unreachable. False when the key was refused.
  async #connect() {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        await this.#hub.start();
        return true;
      } catch (error) {
        if (unauthorized(error)) {
          this.#events.unauthorized();
          return false;
        }
        await delay(retryDelay(attempt + 1));
      }
    }
    return false;
  }

  async #restart() {
    this.#events.state('reconnecting', 'connection closed, retrying');
    if (await this.#connect()) await this.#resume();
  }

  // After a reconnect the connection has no subscriptions: continue from the last applied seq.
  async #resume() {
    const collection = this.#collection;
    if (!collection || !this.#subscribed) {
      // Nothing open, or the drop came before the first subscription finished: (re)load from scratch.
      this.#events.state('resumed', '');
      if (collection) await this.#load(null);
      return;
    }
    const generation = this.#generation;
    try {
      const result = await this.#hub.invoke('Subscribe', collection, this.#last);
      if (generation !== this.#generation) return;
      if (result.resyncRequired) {
        await this.#load('the last change seen is no longer in the change log');
      } else {
        this.#events.state('resumed', `replayed ${result.replayed} missed change${result.replayed === 1 ? '' : 's'}`);
        await this.#joined(generation);
      }
    } catch (error) {
      if (this.#hub.state === 'Connected') this.#events.problem(hubMessage(error));
    }
  }

  // Loads the snapshot and subscribes from its asOf. With a `resyncReason`, this is a resync.
  async #load(resyncReason) {
    const generation = ++this.#generation;
    const collection = this.#collection;
    if (resyncReason) this.#events.state('resync', `reloading: ${resyncReason}`);
    for (let attempt = 0; generation === this.#generation; attempt++) {
      this.#loading = true;
      this.#buffer = [];
      this.#subscribed = false;
      try {
        const snapshot = await this.#api.snapshot(collection);
        if (generation !== this.#generation) return;
        this.#records = new Map(snapshot.items.map((r) => [r.id, { revision: r.revision, deleted: false, record: r }]));
        this.#events.snapshot(collection, this.#records, snapshot);
        this.#loading = false;
        // Changes an earlier subscription pushed while the pages loaded: apply what is newer. They do not
        // move #last: the subscription below replays everything after asOf, in order.
        for (const change of this.#buffer.splice(0)) this.#apply(change, false);
        this.#last = snapshot.asOf;
        const result = await this.#hub.invoke('Subscribe', collection, snapshot.asOf);
        if (generation !== this.#generation) return;
        if (!result.resyncRequired) {
          this.#subscribed = true;
          if (resyncReason) this.#events.state('resync', `reloaded ${snapshot.items.length} records and resubscribed`);
          await this.#joined(generation);
          return;
        }
        // The log moved past asOf while the pages loaded (tiny retention, or a wiped Redis): load again.
        resyncReason ??= 'the change log moved past the snapshot';
      } catch (error) {
        this.#loading = false;
        if (generation !== this.#generation) return;
        // A dropped connection is picked up by the reconnect, which loads again.
        if (this.#hub.state !== 'Connected') return;
        // Refused (403, a bad name) or rejected by the hub: retrying will not help.
        const final = error instanceof ApiError ? !error.transient : /HubException/.test(String(error?.message));
        if (final) {
          this.#events.problem(error instanceof ApiError ? error.message : hubMessage(error));
          return;
        }
        this.#events.problem(`${error?.message ?? error} Retrying…`);
      }
      await delay(retryDelay(attempt + 1));
    }
  }

  #onChange(change) {
    if (change.collection !== this.#collection) return; // from a collection just left
    if (this.#loading) {
      this.#buffer.push(change);
      return;
    }
    this.#apply(change, true);
  }

  #apply(change, advance) {
    if (advance) this.#last = change.seq;
    const held = this.#records.get(change.id);
    const applied = !held || change.revision > held.revision;
    const deleted = change.kind === 'delete';
    let delta = 0;
    if (applied) {
      this.#records.set(change.id, { revision: change.revision, deleted, record: change.record });
      // A record not held is new if this is its first revision; otherwise it lies beyond a truncated
      // snapshot and whether it was live is not known here.
      const wasLive = held ? !held.deleted : change.revision === 1 ? false : null;
      delta = wasLive === null ? null : Number(!deleted) - Number(wasLive);
    }
    this.#events.change(change, applied, delta);
  }

  // Subscribed (again): say who this page is, then list who is there. Events that arrive while the list
  // is on its way are applied over it, in order, so nothing between the two is lost.
  async #joined(generation) {
    const collection = this.#collection;
    try {
      if (this.#presenceData) await this.#hub.invoke('SetPresence', collection, this.#presenceData);
      this.#presenceEvents = [];
      const list = await this.#hub.invoke('Presence', collection);
      if (generation !== this.#generation) return;
      this.#members = new Map(list.members.map((m) => [m.connectionId, m]));
      for (const message of this.#presenceEvents) this.#applyPresence(message);
      this.#showPresence();
    } catch (error) {
      if (this.#hub.state === 'Connected' && generation === this.#generation) this.#events.problem(hubMessage(error));
    } finally {
      this.#presenceEvents = null;
    }
  }

  #onPresence(message) {
    if (message.collection !== this.#collection) return;
    if (this.#presenceEvents) {
      this.#presenceEvents.push(message);
      return;
    }
    this.#applyPresence(message);
    this.#showPresence();
  }

  #applyPresence({ action, member }) {
    if (action === 'leave') this.#members.delete(member.connectionId);
    else this.#members.set(member.connectionId, member);
  }

  #showPresence() {
    this.#events.presence?.([...this.#members.values()], this.#hub.connectionId);
  }

  #onResync(message) {
    if (message.collection !== this.#collection) return;
    this.#load(message.reason || 'the gateway asked for a resync');
  }
}

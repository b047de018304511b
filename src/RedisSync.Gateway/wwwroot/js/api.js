// The gateway's HTTP API (/api/v1) as the dashboard uses it. Every call sends the API key as X-Api-Key.
// URLs are relative to the page, so the dashboard also works behind a proxy under a path prefix.

const PAGE_SIZE = 500;
/** The table shows at most this many records; the rest of a very large collection is not loaded. */
export const SNAPSHOT_LIMIT = 5000;

/** A non-2xx answer (problem+json: `code`, `title`, `detail`, `errors`) or an unreachable gateway (status 0). */
export class ApiError extends Error {
  constructor(status, problem, fallback) {
    super(describeProblem(status, problem, fallback));
    this.status = status;
    this.code = problem?.code ?? null;
    this.problem = problem ?? null;
  }

  /** True when retrying later may help: the gateway or Redis is down, or the key is over its rate. */
  get transient() {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

function describeProblem(status, problem, fallback) {
  if (status === 0) return fallback ?? 'The gateway cannot be reached.';
  if (!problem) return `${status} ${fallback ?? ''}`.trim();
  const parts = [problem.code ?? String(status), problem.detail ?? problem.title ?? ''];
  const errors = problem.errors ? Object.entries(problem.errors) : [];
  for (const [field, messages] of errors) parts.push(`${field}: ${[].concat(messages).join(' ')}`);
  return parts.filter(Boolean).join(' — ');
}

export function createApi(getKey) {
  async function request(method, path, body) {
    const headers = { Accept: 'application/json', 'X-Api-Key': getKey() ?? '' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response;
    try {
      response = await fetch(path, { method, headers, body, cache: 'no-store' });
    } catch {
      throw new ApiError(0, null);
    }
    const type = response.headers.get('Content-Type') ?? '';
    const json = type.includes('json') ? await response.json().catch(() => null) : null;
    if (!response.ok) throw new ApiError(response.status, json, response.statusText);
    return json;
  }

  const records = (collection) => `api/v1/collections/${encodeURIComponent(collection)}/records`;

  return {
    /** `[{ name, policy, records, lastSeq }]`: the collections this key may read. */
    collections: () => request('GET', 'api/v1/collections'),

    /**
     * `{ site, peers: [{ name, url, collections: [{ collection, cursor, lagChanges, lagMs, state, lastError }] }] }`:
     * this site's peers and how far behind each is. Needs a key with Replicate or read `*` (else 403).
     */
    replication: () => request('GET', 'api/v1/replication'),

    /**
     * Every live record, page by page. `asOf` is the FIRST page's: the collection's last seq before any
     * page was read, so subscribing from it replays whatever changed while the later pages were read.
     */
    async snapshot(collection) {
      const items = [];
      let asOf = null;
      let cursor = null;
      do {
        const query = `limit=${PAGE_SIZE}` + (cursor ? `&cursor=${encodeURIComponent(cursor)}` : '');
        const page = await request('GET', `${records(collection)}?${query}`);
        asOf ??= page.asOf;
        items.push(...page.items);
        cursor = page.nextCursor;
      } while (cursor && items.length < SNAPSHOT_LIMIT);
      return { asOf, items, truncated: Boolean(cursor) };
    },

    /**
     * PUT a record. `dataText` is sent exactly as typed (after checking that it is a JSON object), so
     * numbers keep every digit: parsing and re-serializing in JavaScript would round large ones.
     */
    put(collection, id, version, dataText) {
      const body = `{"version":${version},"data":${dataText}}`;
      return request('PUT', `${records(collection)}/${encodeURIComponent(id)}`, body);
    },
  };
}

// The HTTP client of the UI: the token from sessionStorage, JSON in and out,
// problem+json answers turned into ApiError.

const TOKEN_KEY = 'siaod.token';

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }

  get slug() {
    const t = this.problem.type || '';
    return t.startsWith('/problems/') ? t.slice('/problems/'.length) : '';
  }

  // errors[] of a problem: [{pointer, code, detail}] (query errors name a parameter)
  get errors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

// Listeners told when the token is refused (401): the app shows the sign-in.
const unauthorizedListeners = [];
export function onUnauthorized(fn) {
  unauthorizedListeners.push(fn);
}

function url(path, query) {
  const u = new URL(`/v1${path}`, window.location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

async function problemOf(res) {
  let data = null;
  try {
    data = JSON.parse(await res.text());
  } catch (e) {
    data = null;
  }
  const err = new ApiError(res.status, data && typeof data === 'object' ? data : { title: res.statusText });
  if (res.status === 401) unauthorizedListeners.forEach((fn) => fn(err));
  return err;
}

// No answer at all: status 0 (the catalogue has its words, i18n.js).
const NETWORK_DOWN = { type: '/problems/network' };

// A person signed in by cookie (siaod_session, HttpOnly: this page never
// sees it): its writes carry the session's CSRF token, from the sign-in
// answer or GET /v1/me.
let csrfToken = '';
export function setCsrf(t) {
  csrfToken = t || '';
}

function authHeaders(method, headers) {
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrfToken && method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
}

// The sign-in routes, outside /v1 (no token): {data, status} or ApiError.
export async function authCall(method, path, body) {
  const headers = { Accept: 'application/json, application/problem+json' };
  const init = { method, headers, cache: 'no-store', credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(new URL(path, window.location.origin), init);
  } catch (e) {
    throw new ApiError(0, NETWORK_DOWN);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data && typeof data === 'object' ? data : { title: res.statusText });
  return { data, status: res.status };
}

// api('GET', '/offers', {query: {...}}) → {data, etag, status}
export async function api(method, path, { query, body, etag } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  authHeaders(method, headers);
  const init = { method, headers, cache: 'no-store' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (etag) headers['If-Match'] = etag;
  let res;
  try {
    res = await fetch(url(path, query), init);
  } catch (e) {
    throw new ApiError(0, NETWORK_DOWN);
  }
  if (!res.ok) throw await problemOf(res);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = null;
    }
  }
  return { data, etag: res.headers.get('ETag'), status: res.status };
}

// A CSV file POSTed as it is (imports): the answer is JSON.
export async function apiCsv(path, query, bytes) {
  const headers = { Accept: 'application/json, application/problem+json', 'Content-Type': 'text/csv' };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url(path, query), { method: 'POST', headers, body: bytes, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, NETWORK_DOWN);
  }
  if (!res.ok) throw await problemOf(res);
  return { data: await res.json(), status: res.status };
}

// A GET answered in another format than JSON (the indicators' CSV): the
// bytes as they came, in a Blob.
export async function apiBlob(path, { query, accept }) {
  const headers = { Accept: `${accept}, application/problem+json;q=0.5` };
  authHeaders('GET', headers);
  let res;
  try {
    res = await fetch(url(path, query), { headers, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, NETWORK_DOWN);
  }
  if (!res.ok) throw await problemOf(res);
  return res.blob();
}

// Every page of a list (bounded: at most `max` items).
export async function listAll(path, query = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const { data } = await api('GET', path, { query: { ...query, limit: 200, cursor } });
    items.push(...data.items);
    cursor = data.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

// Runs fn over items, at most `width` at a time.
export async function pool(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return out;
}

// Small caches of what every page names: porteurs and offers.
const porteurs = new Map();
let porteursLoaded = null;

export function loadPorteurs(force = false) {
  if (!porteursLoaded || force) {
    porteursLoaded = listAll('/porteurs').then((items) => {
      porteurs.clear();
      items.forEach((p) => porteurs.set(p.id, p));
      return [...porteurs.values()];
    }).catch((e) => {
      porteursLoaded = null;
      throw e;
    });
  }
  return porteursLoaded;
}

export function porteurName(id) {
  const p = porteurs.get(id);
  return p ? p.name : `porteur n° ${id}`;
}

const offers = new Map();

export function rememberOffer(o) {
  offers.set(o.id, Promise.resolve(o));
}

export function getOffer(id) {
  if (!offers.has(id)) {
    const p = api('GET', `/offers/${id}`).then((r) => r.data);
    p.catch(() => offers.delete(id));
    offers.set(id, p);
  }
  return offers.get(id);
}

// Who the token or the session is: {token_id, role, departements, porteur_id,
// account_id, session, csrf_token, email, display_name}.
let me = null;
let meLoaded = null;

export function loadMe(force = false) {
  if (!meLoaded || force) {
    meLoaded = api('GET', '/me').then((r) => {
      me = r.data;
      if (me && me.csrf_token) setCsrf(me.csrf_token);
      return me;
    }).catch((e) => {
      meLoaded = null;
      me = null;
      throw e;
    });
  }
  return meLoaded;
}

// The answer of GET /v1/me once loaded (the app loads it before any page).
export function currentMe() {
  return me;
}

// Communes: a search by the start of the name (or the INSEE code), and the
// name of a code, each code asked at most once.
const communes = new Map(); // insee → Promise of {insee, name, departement, population} or null

export function rememberCommune(c) {
  if (c && c.insee) communes.set(c.insee, Promise.resolve(c));
}

export async function searchCommunes(q, limit = 8) {
  const { data } = await api('GET', '/communes', { query: { q, limit } });
  data.items.forEach(rememberCommune);
  return data.items;
}

export function getCommune(insee) {
  if (!insee) return Promise.resolve(null);
  if (!communes.has(insee)) {
    const p = api('GET', '/communes', { query: { q: insee, limit: 1 } })
      .then((r) => r.data.items.find((c) => c.insee === insee) || null);
    p.catch(() => communes.delete(insee));
    communes.set(insee, p);
  }
  return communes.get(insee);
}

export function forgetCaches() {
  porteurs.clear();
  porteursLoaded = null;
  offers.clear();
  me = null;
  meLoaded = null;
}

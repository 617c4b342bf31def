// api.js: calling the resource API. Every failure becomes an ApiError that
// says what to show: a problem+json (RFC 9457) with its field errors, a
// network failure or a 5xx (worth a retry), or an ended sign-in.
import { accessToken, refresh, issuer, AuthError } from './auth.js';

export class ApiError extends Error {
  constructor(status, problem, { network = false } = {}) {
    super(problem?.detail || problem?.title || (network ? 'gatehouse could not be reached.' : `HTTP ${status}`));
    this.status = status;
    this.problem = problem || {};
    this.network = network;
  }

  // retryable failures are worth the same request again.
  get retryable() {
    return this.network || this.status >= 500 || this.status === 429;
  }

  // fields maps each refused field to its message.
  get fields() {
    const out = {};
    for (const e of this.problem.errors || []) if (e.field && !(e.field in out)) out[e.field] = e.message;
    return out;
  }
}

let onSessionEnded = () => {};
export function whenSessionEnds(fn) {
  onSessionEnded = fn;
}

function url(path, query) {
  const u = new URL(`${issuer}/api/v1${path}`);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
  }
  return u;
}

async function send(method, path, opts, token) {
  const headers = { Accept: 'application/json, application/problem+json', ...(opts.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = method === 'PATCH' ? 'application/merge-patch+json' : 'application/json';
    body = JSON.stringify(opts.body);
  }
  try {
    return await fetch(url(path, opts.query), { method, headers, body, credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, null, { network: true });
  }
}

// api calls the API with the signed-in person's access token. A 401 is
// retried once after a refresh (the token may have expired in between);
// if the refresh fails too, the sign-in has ended.
export async function api(method, path, opts = {}) {
  let token;
  try {
    token = await accessToken();
    let resp = await send(method, path, opts, opts.token ?? token);
    if (resp.status === 401 && !opts.token) {
      await refresh();
      resp = await send(method, path, opts, await accessToken());
    }
    return await read(resp);
  } catch (e) {
    if (e instanceof AuthError && e.code === 'session_expired') {
      onSessionEnded();
      throw new ApiError(401, { title: 'Signed out', detail: 'Your sign-in has expired. Sign in again to continue.' });
    }
    if (e instanceof AuthError) throw new ApiError(0, null, { network: true });
    throw e;
  }
}

async function read(resp) {
  const type = resp.headers.get('Content-Type') || '';
  let data = null;
  if (resp.status !== 204 && type.includes('json')) data = await resp.json().catch(() => null);
  if (!resp.ok) {
    throw new ApiError(resp.status, data && typeof data === 'object' ? data : { title: resp.statusText });
  }
  return { data, headers: resp.headers, status: resp.status };
}

export const get = async (path, query) => (await api('GET', path, { query })).data;
export const post = async (path, body) => (await api('POST', path, { body })).data;
export const put = async (path, body) => (await api('PUT', path, { body })).data;
export const patch = async (path, body, headers) => (await api('PATCH', path, { body, headers })).data;
export const del = async (path, query) => (await api('DELETE', path, { query })).data;

export const enc = encodeURIComponent;

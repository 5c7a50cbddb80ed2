// The dashboard's client of tidegated's HTTP/JSON API (api/openapi.yaml). Every failure becomes an
// ApiError whose message names the request and the daemon's own error, so views can show it.
//
// Auth (docs/user/security.md): when tidegated requires a bearer token it answers 401; the page
// then asks for a token (main.js), keeps it in sessionStorage (this tab only, gone when the tab
// closes) and sends it as `Authorization: Bearer <token>` with every API call.

const TOKEN_KEY = 'tidegate.token';

export class ApiError extends Error {
  constructor(method, path, status, code, detail) {
    const what = status ? `${status} ${code}` : code;
    super(`${method} ${path}: ${what}${detail ? ` — ${detail}` : ''}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';  // Storage disabled: the page still works without auth.
  }
}

// Stores `t` (or forgets the token when `t` is empty) and tells the page (event 'tidegate:auth').
export function setToken(t) {
  try {
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: nothing to keep.
  }
  window.dispatchEvent(new CustomEvent('tidegate:auth', { detail: { signedIn: Boolean(t) } }));
}

export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const sent = token();
  if (sent) headers.Authorization = `Bearer ${sent}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(method, path, 0, 'UNAVAILABLE', `tidegated did not answer (${e.message})`);
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json && json.error;
    const e = new ApiError(method, path, res.status, (err && err.code) || res.statusText || 'ERROR',
      (err && err.message) || text.slice(0, 300));
    // The page asks for a token (again, when the one sent was refused).
    if (res.status === 401) {
      window.dispatchEvent(new CustomEvent('tidegate:unauthorized', { detail: { message: e.detail, sent: Boolean(sent) } }));
    }
    throw e;
  }
  if (json === undefined || json === null || typeof json !== 'object') {
    throw new ApiError(method, path, res.status, 'BAD_RESPONSE', 'the answer is not a JSON object');
  }
  return json;
}

// Path segment of a class key ("tenant/key=value,..."), as /v1/classes/{key} expects it.
export const classPath = (key) => `/v1/classes/${encodeURIComponent(key)}`;

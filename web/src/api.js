// The dashboard's client of tidegated's HTTP/JSON API (api/openapi.yaml). Every failure becomes an
// ApiError whose message names the request and the daemon's own error, so views can show it.

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

export async function api(path, { method = 'GET', body, signal } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body === undefined ? { Accept: 'application/json' }
        : { Accept: 'application/json', 'Content-Type': 'application/json' },
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
    throw new ApiError(method, path, res.status, (err && err.code) || res.statusText || 'ERROR',
      (err && err.message) || text.slice(0, 300));
  }
  if (json === undefined || json === null || typeof json !== 'object') {
    throw new ApiError(method, path, res.status, 'BAD_RESPONSE', 'the answer is not a JSON object');
  }
  return json;
}

// Path segment of a class key ("tenant/key=value,..."), as /v1/classes/{key} expects it.
export const classPath = (key) => `/v1/classes/${encodeURIComponent(key)}`;

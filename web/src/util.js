// Small DOM and formatting helpers shared by the views.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ESC[c]);

// Number formats are costly to create; tables print thousands of numbers, so keep one per precision.
const FORMATS = new Map();
function format(digits) {
  let f = FORMATS.get(digits);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { maximumFractionDigits: digits });
    FORMATS.set(digits, f);
  }
  return f;
}

export function num(v, digits = 2) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v !== 'number' || !Number.isFinite(v)) return esc(v);
  return format(Number.isInteger(v) ? 0 : digits).format(v);
}

export function time(t) {
  if (!t) return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return esc(t);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function ago(t) {
  const d = Date.parse(t);
  if (Number.isNaN(d)) return '';
  const s = Math.round((Date.now() - d) / 1000);
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const STATES = ['ok', 'throttled', 'surge', 'anomaly'];

export function badge(state) {
  if (!state) return '<span class="badge badge-none" title="the daemon reports no state">n/a</span>';
  const known = STATES.includes(state) || ['firing', 'pending', 'inactive', 'resolved'].includes(state);
  return `<span class="badge badge-${known ? esc(state) : 'none'}">${esc(state)}</span>`;
}

// An API error as a message. 401: the page asks for a token (main.js); 403: the token is valid
// but may not do this (a scope or a tenant it lacks), which the message says first.
export function errorBox(err, what) {
  const msg = err instanceof Error ? err.message : String(err);
  const head = err?.status === 401 ? `${what} unavailable: tidegated needs an access token.`
    : err?.status === 403 ? `${what}: not permitted with this token.`
      : `${what} unavailable.`;
  return `<div class="error" role="alert"><strong>${esc(head)}</strong> ${esc(msg)}</div>`;
}

export const PRIORITY = ['critical', 'high', 'normal', 'low'];
export const tierName = (p) => (typeof p === 'number' && PRIORITY[p] ? PRIORITY[p] : p ?? '—');

export function el(html) {
  const t = document.createElement('template');
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}

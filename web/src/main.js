// tidegate dashboard: a hash-routed single page over tidegated's API. Each view fetches what it
// shows, renders, and refreshes while "Live" is on (every POLL_MS, paused while the tab is hidden
// or while the page waits for an access token). Routes: #/, #/class/<key>[?horizon=&history=],
// #/capacity, #/alerts, #/scaling.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { overview } from './views/overview.js';
import { capacity } from './views/capacity.js';
import { alerts } from './views/alerts.js';
import { scaling } from './views/scaling.js';
import { setToken, token } from './api.js';
import { errorBox, esc } from './util.js';

const POLL_MS = 5000;

// Read by the browser tests and by anyone debugging: the series each chart plots, the view shown.
window.tidegate = { charts: {}, view: null, refreshes: 0 };

function route() {
  const hash = location.hash.replace(/^#/, '') || '/';
  const q = hash.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  const [, name = '', ...rest] = (q < 0 ? hash : hash.slice(0, q)).split('/');
  const arg = rest.join('/');
  switch (name) {
    case '': return { view: overview, name: 'overview' };
    case 'class': return { load: loadClassView, name: 'class', arg: decodeURIComponent(arg), params };
    case 'capacity': return { view: capacity, name: 'capacity' };
    case 'alerts': return { view: alerts, name: 'alerts' };
    case 'scaling': return { view: scaling, name: 'scaling' };
    default: return { view: null, name: 'unknown', arg: hash };
  }
}

let current = null;
let timer = null;
let generation = 0;

async function refresh() {
  clearTimeout(timer);
  const gen = generation;
  if (current && current.refresh) {
    try {
      await current.refresh();
      window.tidegate.refreshes += 1;
      document.getElementById('updated').textContent =
        `updated ${new Date().toLocaleTimeString('en-GB')}`;
    } catch (e) {
      // Views show their own errors; this is a bug in a view, shown rather than swallowed.
      console.error(e);
    }
  }
  if (gen === generation) schedule();
}

function schedule() {
  clearTimeout(timer);
  if (document.getElementById('live').checked && !document.hidden && authPrompt.hidden) {
    timer = setTimeout(refresh, POLL_MS);
  }
}

// The class view and its chart library (uPlot) are a chunk of their own, loaded on first use (and
// fetched ahead once the first view is shown), so the first page parses only what it shows.
const loadClassView = () => import('./views/class.js').then((m) => {
  window.tidegate.classViewLoaded = true;
  return m.classView;
});

async function show() {
  generation += 1;
  const gen = generation;
  clearTimeout(timer);
  if (current && current.destroy) current.destroy();
  window.tidegate.charts = {};
  const r = route();
  window.tidegate.view = r.name;
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = a.dataset.nav === r.name || (r.name === 'class' && a.dataset.nav === 'overview');
    if (on) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const main = document.getElementById('main');
  let view = r.view;
  if (r.load) {
    try {
      view = await r.load();
    } catch (e) {
      main.innerHTML = errorBox(e, 'This view');
      current = null;
      return;
    }
    if (gen !== generation) return;  // Another view was asked for meanwhile.
  }
  main.innerHTML = '';
  if (!view) {
    document.title = 'Not found · tidegate';
    main.innerHTML = `<h1>Not found</h1>${errorBox(`no view '${esc(r.arg)}'`, 'This page')}
      <p><a href="#/">Back to the overview</a></p>`;
    current = null;
    return;
  }
  current = view(main, r.arg, r.params);
  document.title = `${current.title} · tidegate`;
  refresh().then(() => {
    // Into the new view, unless the token form has taken the focus.
    if (window.tidegate.pendingFocus && authPrompt.hidden) main.focus({ preventScroll: true });
    window.tidegate.pendingFocus = false;
    if ('requestIdleCallback' in window) requestIdleCallback(() => loadClassView().catch(() => {}));
  });
}

// Auth: a 401 from any API call shows the token form; a token given (or forgotten with Sign out)
// re-reads the view with it.
const authPrompt = document.getElementById('auth');
const authForm = document.getElementById('auth-form');
const authInput = document.getElementById('auth-token');
const signOut = document.getElementById('sign-out');

function showSignedIn() {
  signOut.hidden = !token();
}

window.addEventListener('tidegate:unauthorized', (e) => {
  const why = document.getElementById('auth-why');
  why.textContent = e.detail.sent
    ? `tidegated refused the token: ${e.detail.message}.`
    : `tidegated requires an access token: ${e.detail.message}.`;
  if (authPrompt.hidden) {
    authPrompt.hidden = false;
    clearTimeout(timer);
    authInput.focus();
  }
});
window.addEventListener('tidegate:auth', () => {
  showSignedIn();
  authPrompt.hidden = true;
  authInput.value = '';
  show();
});
authForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const t = authInput.value.trim();
  if (t) setToken(t);
});
signOut.addEventListener('click', () => setToken(''));
showSignedIn();

window.addEventListener('hashchange', () => {
  window.tidegate.pendingFocus = true;
  show();
});
document.addEventListener('visibilitychange', () => (document.hidden ? clearTimeout(timer) : refresh()));
document.getElementById('live').addEventListener('change', (e) => (e.target.checked ? refresh() : clearTimeout(timer)));
document.getElementById('live-interval').textContent = String(POLL_MS / 1000);
show();

// Overview: every class and tenant with its state; search, filter by state and tenant, sort by any
// column. Filtering and sorting run over every class; the table shows PAGE_ROWS at a time, since
// laying out thousands of table rows costs the browser far more than the script does.
import { api } from '../api.js';
import { badge, errorBox, esc, num, STATES, tierName, time } from '../util.js';

const PAGE_ROWS = 100;

const COLUMNS = [
  { id: 'key', label: 'Class', get: (c) => c.key },
  { id: 'tenant', label: 'Tenant', get: (c) => c.tenant },
  { id: 'state', label: 'State', get: (c) => c.state ?? '' },
  { id: 'priority', label: 'Priority', get: (c) => c.priority },
  { id: 'rate_per_s', label: 'Rate /s', get: (c) => c.rate_per_s, numeric: true },
  { id: 'planned_rate_per_s', label: 'Planned /s', get: (c) => c.planned_rate_per_s, numeric: true },
  { id: 'size', label: 'Size', get: (c) => c.size, numeric: true },
  { id: 'planned_size', label: 'Planned size', get: (c) => c.planned_size, numeric: true },
  { id: 'available', label: 'Available', get: (c) => c.available, numeric: true },
  { id: 'admitted', label: 'Admitted', get: (c) => c.decisions?.ok, numeric: true },
  { id: 'refused', label: 'Refused', get: (c) => c.decisions?.over_limit, numeric: true },
];

// One collator for every comparison: String.prototype.localeCompare with a locale and options
// builds a new one per call, which took 0.2–0.8 s to sort 1,000 class keys in chromium (one
// collator: 3–11 ms).
const COLLATOR = new Intl.Collator('en', { numeric: true });

function compare(a, b) {
  const na = a === null || a === undefined || a === '';
  const nb = b === null || b === undefined || b === '';
  if (na || nb) return na === nb ? 0 : na ? 1 : -1;  // Missing values last.
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return COLLATOR.compare(String(a), String(b));
}

function classRow(c) {
  const href = `#/class/${encodeURIComponent(c.key)}`;
  const o = c.override;
  const over = o ? ` <span class="tag" title="override until ${esc(time(o.expires_at))}">override</span>` : '';
  return `<tr data-key="${esc(c.key)}"><th scope="row" title="${esc(c.key)}"><a href="${href}">${esc(c.key)}</a>${over}</th>` +
    `<td>${esc(c.tenant)}</td><td>${badge(c.state)}</td><td>${esc(tierName(c.priority))}</td>` +
    `<td class="n">${num(c.rate_per_s)}</td><td class="n">${num(c.planned_rate_per_s)}</td>` +
    `<td class="n">${num(c.size)}</td><td class="n">${num(c.planned_size)}</td>` +
    `<td class="n">${num(c.available)}</td><td class="n">${num(c.decisions?.ok)}</td>` +
    `<td class="n">${num(c.decisions?.over_limit)}</td></tr>`;
}

export function overview(root) {
  root.innerHTML = `
    <h1>Overview</h1>
    <section aria-labelledby="classes-h">
      <h2 id="classes-h">Classes <span class="muted" id="class-count"></span></h2>
      <form class="filters" role="search">
        <label>Search <input type="search" id="q" placeholder="tenant, class or value" autocomplete="off"></label>
        <label>State <select id="state-filter"><option value="">any</option>
          ${STATES.map((s) => `<option value="${s}">${s}</option>`).join('')}</select></label>
        <label>Tenant <select id="tenant-filter"><option value="">any</option></select></label>
      </form>
      <div id="classes-error"></div>
      <div class="table-wrap">
        <table id="classes" class="data">
          <caption class="sr-only">Request classes; column headers sort</caption>
          <thead><tr>${COLUMNS.map((c) => `<th scope="col" data-col="${c.id}" aria-sort="none" class="${c.numeric ? 'n' : ''}">
            <button type="button">${c.label}</button></th>`).join('')}</tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of classes">
        <button type="button" id="page-prev">Previous</button>
        <span id="page-info" aria-live="polite"></span>
        <button type="button" id="page-next">Next</button>
      </nav>
    </section>
    <section aria-labelledby="tenants-h">
      <h2 id="tenants-h">Tenants</h2>
      <div id="tenants"></div>
    </section>`;
  const tbody = root.querySelector('#classes tbody');
  const q = root.querySelector('#q');
  const stateFilter = root.querySelector('#state-filter');
  const tenantFilter = root.querySelector('#tenant-filter');
  let classes = [];
  let sort = { col: 'key', dir: 1 };
  let page = 0;
  let lastHtml = '';

  function render() {
    const needle = q.value.trim().toLowerCase();
    const st = stateFilter.value;
    const tn = tenantFilter.value;
    const col = COLUMNS.find((c) => c.id === sort.col);
    const rows = classes.filter((c) => (!needle || c.key.toLowerCase().includes(needle)) &&
      (!st || c.state === st) && (!tn || c.tenant === tn));
    rows.sort((a, b) => sort.dir * compare(col.get(a), col.get(b)) || compare(a.key, b.key));
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_ROWS));
    page = Math.min(page, pages - 1);
    const first = page * PAGE_ROWS;
    const shown = rows.slice(first, first + PAGE_ROWS);
    root.querySelector('#page-info').textContent = rows.length
      ? `Rows ${(first + 1).toLocaleString('en-US')}–${(first + shown.length).toLocaleString('en-US')} of ${rows.length.toLocaleString('en-US')}`
      : '';
    root.querySelector('#page-prev').disabled = page === 0;
    root.querySelector('#page-next').disabled = page >= pages - 1;
    root.querySelector('.pager').hidden = pages === 1;
    const html = shown.length ? shown.map(classRow).join('')
      : `<tr><td colspan="${COLUMNS.length}" class="muted">${classes.length ? 'No class matches the filter.' : 'No classes yet: a class appears with its configuration or its first request.'}</td></tr>`;
    root.querySelector('#class-count').textContent =
      rows.length === classes.length ? `(${classes.length})` : `(${rows.length} of ${classes.length})`;
    if (html === lastHtml) return;
    // Keep keyboard focus on the same class link across a live refresh.
    const focused = document.activeElement?.closest?.('tr[data-key]')?.dataset.key;
    tbody.innerHTML = html;
    lastHtml = html;
    if (focused) tbody.querySelector(`tr[data-key="${CSS.escape(focused)}"] a`)?.focus();
    for (const th of root.querySelectorAll('#classes th[data-col]')) {
      th.setAttribute('aria-sort', th.dataset.col === sort.col ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    }
  }

  root.querySelector('#classes thead').addEventListener('click', (e) => {
    const th = e.target.closest('th[data-col]');
    if (!th) return;
    sort = th.dataset.col === sort.col ? { col: sort.col, dir: -sort.dir } : { col: th.dataset.col, dir: 1 };
    page = 0;
    render();
  });
  const refilter = () => {
    page = 0;
    render();
  };
  root.querySelector('form.filters').addEventListener('submit', (e) => e.preventDefault());
  q.addEventListener('input', refilter);
  stateFilter.addEventListener('change', refilter);
  tenantFilter.addEventListener('change', refilter);
  root.querySelector('#page-prev').addEventListener('click', () => { page -= 1; render(); });
  root.querySelector('#page-next').addEventListener('click', () => { page += 1; render(); });

  async function loadClasses() {
    const errBox = root.querySelector('#classes-error');
    try {
      const data = await api('/v1/classes');
      classes = Array.isArray(data.classes) ? data.classes : [];
      errBox.innerHTML = '';
    } catch (e) {
      errBox.innerHTML = errorBox(e, 'Classes');
    }
    const tenants = [...new Set(classes.map((c) => c.tenant))].sort();
    const chosen = tenantFilter.value;
    const opts = '<option value="">any</option>' + tenants.map((t) => `<option${t === chosen ? ' selected' : ''}>${esc(t)}</option>`).join('');
    if (tenantFilter.innerHTML !== opts) tenantFilter.innerHTML = opts;
    window.tidegate.classes = classes;
    render();
  }

  async function loadTenants() {
    const box = root.querySelector('#tenants');
    try {
      const data = await api('/v1/tenants');
      const ts = Array.isArray(data.tenants) ? data.tenants : [];
      box.innerHTML = ts.length ? `<div class="table-wrap"><table class="data" id="tenants-table">
        <thead><tr><th scope="col">Tenant</th><th scope="col" class="n">Quota /s</th><th scope="col">Priority</th>
        <th scope="col" class="n">Classes</th><th scope="col" class="n">Admitted</th><th scope="col" class="n">Refused</th></tr></thead>
        <tbody>${ts.map((t) => `<tr><th scope="row">${esc(t.name)}</th><td class="n">${num(t.quota_per_s)}</td>
          <td>${esc(tierName(t.priority))}</td><td class="n">${num(Array.isArray(t.classes) ? t.classes.length : t.classes)}</td>
          <td class="n">${num(t.admitted)}</td><td class="n">${num(t.refused)}</td></tr>`).join('')}</tbody></table></div>`
        : '<p class="muted">No tenants configured.</p>';
    } catch (e) {
      box.innerHTML = errorBox(e, 'Tenants');
    }
  }

  return {
    title: 'Overview',
    refresh: () => Promise.all([loadClasses(), loadTenants()]),
  };
}

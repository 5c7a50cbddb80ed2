// Class view: the bucket in force, demand (actual vs forecast with its interval band and anomalies)
// at a chosen horizon over a chosen span of history, the planned refill rate and size over time
// with each plan's explanation, and an override form. The history comes from the daemon already
// reduced to at most one point per pixel of the chart (`points=`), so a 30-day view is as light
// as a 2-hour one.
import { api, classPath } from '../api.js';
import { forecastChart, planChart, updateForecastChart, updatePlanChart } from '../charts.js';
import { badge, errorBox, esc, num, tierName, time } from '../util.js';

const HORIZONS = ['1m', '1h', '1d'];
// How far back the plan history goes for each horizon (unless a span of history is chosen).
const PLAN_WINDOW_S = { '1m': 3600, '1h': 86400, '1d': 7 * 86400 };
// Spans of history: '' is the horizon's recent history (1m: 1 hour, 1h: 2 hours, 1d: 2 days).
const SPANS = [['', 'recent'], ['1d', '1 day'], ['7d', '7 days'], ['30d', '30 days']];
const SPAN_S = { '1d': 86400, '7d': 7 * 86400, '30d': 30 * 86400 };

const EXPLANATION = [
  ['demand_per_s', 'demand /s'], ['forecast_per_s', 'forecast /s'],
  ['bias_correction_per_s', 'bias correction /s'], ['margin', 'safety margin'],
  ['surge', 'surge'], ['spread', 'interval spread'], ['target_per_s', 'target /s'],
  ['floor_per_s', 'floor /s'], ['cap_per_s', 'capacity cap /s'], ['ceiling_per_s', 'ceiling /s'],
  ['tier', 'tier'], ['weight', 'weight'], ['limited_by', 'limited by'],
];

function explanationHtml(p) {
  if (!p) return '<p class="muted">No plan yet.</p>';
  const e = p.explanation && typeof p.explanation === 'object' ? p.explanation : {};
  const rows = EXPLANATION.filter(([k]) => e[k] !== undefined && e[k] !== null).map(([k, label]) => {
    let v = e[k];
    if (k === 'margin' || k === 'spread') v = typeof v === 'number' ? `${num(v * 100, 1)} %` : esc(v);
    else if (k === 'tier') v = esc(tierName(v));
    else if (typeof v === 'boolean') v = v ? 'yes' : 'no';
    else v = num(v);
    return `<div><dt>${label}</dt><dd${k === 'limited_by' ? ' class="strong"' : ''}>${v}</dd></div>`;
  });
  return `<p><strong>${esc(time(p.t))}</strong>: refill ${num(p.rate_per_s)} /s, size ${num(p.size)}` +
    `${p.reason ? ` — ${esc(p.reason)}` : ''}</p><dl class="kv">${rows.join('')}</dl>`;
}

export function classView(root, key, params = new URLSearchParams()) {
  let horizon = HORIZONS.includes(params.get('horizon')) ? params.get('horizon') : '1h';
  let span = SPAN_S[params.get('history')] ? params.get('history') : '';
  let fc = null;
  let pc = null;
  root.innerHTML = `
    <p class="crumbs"><a href="#/">Overview</a> / class</p>
    <h1><span id="class-name">${esc(key)}</span> <span id="class-state"></span></h1>
    <div id="class-info"></div>
    <section aria-labelledby="demand-h">
      <h2 id="demand-h">Demand: actual vs forecast</h2>
      <fieldset class="horizon"><legend>Horizon</legend>
        ${HORIZONS.map((h) => `<label><input type="radio" name="horizon" value="${h}"${h === horizon ? ' checked' : ''}> ${h}</label>`).join('')}
      </fieldset>
      <label class="span">History <select id="span">${SPANS.map(([v, label]) => `<option value="${v}"${v === span ? ' selected' : ''}>${label}</option>`).join('')}</select></label>
      <p id="forecast-meta" class="muted"></p>
      <div id="forecast-error"></div>
      <figure class="chart"><div id="forecast-chart" role="img" aria-label="Actual and forecast demand"></div></figure>
      <div id="anomaly-list"></div>
    </section>
    <section aria-labelledby="plan-h">
      <h2 id="plan-h">Bucket plan: refill rate and size</h2>
      <p class="muted">Point at the chart to see why each plan was made.</p>
      <div id="plan-error"></div>
      <figure class="chart"><div id="plan-chart" role="img" aria-label="Planned refill rate and bucket size over time"></div></figure>
      <div id="plan-explanation" class="explanation" aria-live="polite"></div>
      <details id="plan-table"><summary>Recent plans as a table</summary><div></div></details>
    </section>
    <section aria-labelledby="override-h">
      <h2 id="override-h">Override</h2>
      <p class="muted">Set this class's refill rate and/or bucket size for a time; the plan resumes when it expires.</p>
      <form id="override-form" class="override" novalidate>
        <label>Refill rate /s <input name="rate_per_s" type="number" min="0" step="any" inputmode="decimal"></label>
        <label>Bucket size <input name="size" type="number" min="0" step="any" inputmode="decimal"></label>
        <label>For <input name="ttl" type="number" min="1" step="any" value="15" required></label>
        <label>Unit <select name="ttl_unit"><option value="60" selected>minutes</option><option value="3600">hours</option><option value="1">seconds</option></select></label>
        <button type="submit">Apply override</button>
      </form>
      <div id="override-result"></div>
    </section>`;

  const $ = (sel) => root.querySelector(sel);
  const charts = window.tidegate.charts;

  async function loadClass() {
    const box = $('#class-info');
    try {
      const c = await api(classPath(key));
      $('#class-state').innerHTML = badge(c.state);
      const o = c.override;
      const limit = c.configured_limit;
      box.innerHTML = `<dl class="kv summary" id="class-summary">
        <div><dt>Tenant</dt><dd>${esc(c.tenant)}</dd></div>
        <div><dt>Priority</dt><dd>${esc(tierName(c.priority))}</dd></div>
        <div><dt>Weight</dt><dd>${num(c.weight)}</dd></div>
        <div><dt>Refill rate /s</dt><dd data-field="rate_per_s">${num(c.rate_per_s)}</dd></div>
        <div><dt>Bucket size</dt><dd data-field="size">${num(c.size)}</dd></div>
        <div><dt>Available</dt><dd>${num(c.available)}</dd></div>
        <div><dt>Planned /s</dt><dd>${num(c.planned_rate_per_s)}</dd></div>
        <div><dt>Planned size</dt><dd>${num(c.planned_size)}</dd></div>
        <div><dt>Admitted</dt><dd>${num(c.decisions?.ok)}</dd></div>
        <div><dt>Refused</dt><dd>${num(c.decisions?.over_limit)}</dd></div>
        <div><dt>Source</dt><dd>${esc(c.source)}${c.location ? ` <span class="muted">(${esc(c.location)})</span>` : ''}</dd></div>
        <div><dt>Configured</dt><dd>${limit ? esc(JSON.stringify(limit)) : '—'}</dd></div>
        </dl>${o ? `<p class="notice" id="override-active">Override in force until ${esc(time(o.expires_at))}:
          ${o.rate_per_s !== undefined ? `rate ${num(o.rate_per_s)} /s` : ''} ${o.size !== undefined ? `size ${num(o.size)}` : ''}
          <button type="button" id="override-clear">Remove override</button></p>` : ''}`;
      $('#override-clear')?.addEventListener('click', clearOverride);
    } catch (e) {
      $('#class-state').innerHTML = '';
      box.innerHTML = errorBox(e, 'This class');
    }
  }

  async function loadForecast() {
    const errBox = $('#forecast-error');
    const chartBox = $('#forecast-chart');
    try {
      // At most one history point per pixel of the chart.
      const points = Math.max(10, Math.round(chartBox.clientWidth || 800));
      const resp = await api(`${classPath(key)}/forecast?horizon=${horizon}&points=${points}` +
        `${span ? `&history=${span}` : ''}`);
      const unit = resp.resource === 'requests' || !resp.resource ? 'requests /s' : resp.resource;
      const kind = `${horizon}|${span}|${unit}|${resp.level}`;
      errBox.innerHTML = '';
      if (fc && fc.kind === kind) {
        updateForecastChart(fc, resp);
      } else {
        if (fc) { fc.stop(); fc.u.destroy(); fc = null; }
        chartBox.innerHTML = '';
        fc = forecastChart(chartBox, resp, unit);
        fc.kind = kind;
      }
      const s = fc.series;
      const nA = s.actual.filter((v) => v !== null).length;
      const nF = s.mean.filter((v) => v !== null).length;
      const nX = s.anomaly.filter((v) => v !== null).length;
      chartBox.setAttribute('aria-label', `Actual and forecast ${unit} at horizon ${horizon}` +
        ` (model ${resp.model ?? 'unknown'}, ${resp.level ?? 95}% interval): ${nA} actual points,` +
        ` ${nF} forecast points, ${nX} anomalies`);
      chartBox.dataset.points = String(s.x.length);
      const histStep = resp.actual_step_s ?? resp.step_s;
      $('#forecast-meta').textContent = `model ${resp.model ?? '—'} · forecast step ${resp.step_s ?? '—'} s · ` +
        `history step ${histStep ?? '—'} s (mean rate) · ${resp.level ?? 95}% interval · ${nA} actual, ${nF} forecast points`;
      charts.forecast = { horizon, span, response: { model: resp.model, level: resp.level, actual_step_s: histStep }, ...s };
      const an = Array.isArray(resp.anomalies) ? resp.anomalies : [];
      $('#anomaly-list').innerHTML = an.length ? `<details><summary>${an.length} ${an.length === 1 ? "anomaly" : "anomalies"}</summary>
        <table class="data"><thead><tr><th scope="col">Time</th><th scope="col" class="n">Value</th><th scope="col" class="n">Score</th><th scope="col">Kind</th></tr></thead>
        <tbody>${an.slice(-200).reverse().map((a) => `<tr><td>${esc(time(a.t))}</td><td class="n">${num(a.value)}</td><td class="n">${num(a.score, 3)}</td><td>${esc(a.kind)}</td></tr>`).join('')}</tbody></table></details>` : '';
    } catch (e) {
      if (fc) { fc.stop(); fc.u.destroy(); fc = null; }
      chartBox.innerHTML = '';
      chartBox.dataset.points = '0';
      charts.forecast = { horizon, span, error: e.message };
      $('#forecast-meta').textContent = '';
      $('#anomaly-list').innerHTML = '';
      errBox.innerHTML = errorBox(e, `The ${horizon} forecast`);
    }
  }

  async function loadPlans() {
    const errBox = $('#plan-error');
    const chartBox = $('#plan-chart');
    const since = new Date(Date.now() - (SPAN_S[span] ?? PLAN_WINDOW_S[horizon]) * 1000).toISOString();
    try {
      const resp = await api(`${classPath(key)}/plans?since=${encodeURIComponent(since)}`);
      const points = Array.isArray(resp.points) ? resp.points : [];
      errBox.innerHTML = '';
      const explain = $('#plan-explanation');
      if (pc && pc.horizon === `${horizon}|${span}`) {
        updatePlanChart(pc, points);
      } else {
        if (pc) { pc.stop(); pc.u.destroy(); pc = null; }
        chartBox.innerHTML = '';
        pc = planChart(chartBox, points, (p) => { explain.innerHTML = explanationHtml(p); });
        pc.horizon = `${horizon}|${span}`;
      }
      chartBox.dataset.points = String(pc.points.length);
      chartBox.setAttribute('aria-label', `Planned refill rate and bucket size since ${time(since)}: ${pc.points.length} plans`);
      // The latest plan, unless the pointer is on the chart showing another.
      if (pc.u.cursor.idx === null || pc.u.cursor.idx === undefined) {
        explain.innerHTML = explanationHtml(pc.points[pc.points.length - 1]);
      }
      charts.plans = { since, ...pc.series };
      $('#plan-table > div').innerHTML = pc.points.length ? `<table class="data"><thead><tr><th scope="col">Time</th>
        <th scope="col" class="n">Refill /s</th><th scope="col" class="n">Size</th><th scope="col">Reason</th><th scope="col">Limited by</th></tr></thead>
        <tbody>${pc.points.slice(-50).reverse().map((p) => `<tr><td>${esc(time(p.t))}</td><td class="n">${num(p.rate_per_s)}</td>
        <td class="n">${num(p.size)}</td><td>${esc(p.reason)}</td><td>${esc(p.explanation?.limited_by)}</td></tr>`).join('')}</tbody></table>`
        : '<p class="muted">No plans in this window.</p>';
    } catch (e) {
      if (pc) { pc.stop(); pc.u.destroy(); pc = null; }
      chartBox.innerHTML = '';
      chartBox.dataset.points = '0';
      charts.plans = { since, error: e.message };
      $('#plan-explanation').innerHTML = '';
      $('#plan-table > div').innerHTML = '';
      errBox.innerHTML = errorBox(e, 'The plan history');
    }
  }

  async function clearOverride() {
    const out = $('#override-result');
    try {
      await api(`/v1/overrides/${encodeURIComponent(key)}`, { method: 'DELETE' });
      out.innerHTML = '<p class="ok" role="status">Override removed.</p>';
    } catch (e) {
      out.innerHTML = errorBox(e, 'Removing the override');
    }
    await loadClass();
  }

  $('#override-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    const out = $('#override-result');
    const body = { class: key };
    const problems = [];
    for (const name of ['rate_per_s', 'size']) {
      const raw = f.elements[name].value.trim();
      if (raw === '') continue;
      const v = Number(raw);
      if (!Number.isFinite(v) || v < 0) problems.push(`${name === 'size' ? 'Bucket size' : 'Refill rate'} must be a number ≥ 0.`);
      else body[name] = v;
    }
    if (!('rate_per_s' in body) && !('size' in body) && problems.length === 0) {
      problems.push('Give a refill rate, a bucket size, or both.');
    }
    const ttl = Number(f.elements.ttl.value) * Number(f.elements.ttl_unit.value);
    if (!Number.isFinite(ttl) || ttl <= 0) problems.push('The duration must be a positive number.');
    else body.ttl_seconds = ttl;
    if (problems.length) {
      out.innerHTML = `<div class="error" role="alert">${problems.map(esc).join(' ')}</div>`;
      return;
    }
    const button = f.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      const o = await api('/v1/overrides', { method: 'POST', body });
      out.innerHTML = `<p class="ok" role="status">Override applied to ${esc(o.class ?? key)} until ${esc(time(o.expires_at))}.</p>`;
    } catch (e) {
      out.innerHTML = errorBox(e, 'The override');
    } finally {
      button.disabled = false;
    }
    await loadClass();
  });

  // The choice stays in the address, so a reload or a shared link shows the same view.
  function reloadCharts() {
    const q = new URLSearchParams({ horizon });
    if (span) q.set('history', span);
    window.history.replaceState(null, '', `#/class/${encodeURIComponent(key)}?${q}`);
    Promise.all([loadForecast(), loadPlans()]);
  }
  for (const r of root.querySelectorAll('input[name=horizon]')) {
    r.addEventListener('change', () => {
      horizon = r.value;
      reloadCharts();
    });
  }
  $('#span').addEventListener('change', (e) => {
    span = e.target.value;
    reloadCharts();
  });

  return {
    title: key,
    refresh: () => Promise.all([loadClass(), loadForecast(), loadPlans()]),
    destroy() {
      for (const c of [fc, pc]) if (c) { c.stop(); c.u.destroy(); }
    },
  };
}

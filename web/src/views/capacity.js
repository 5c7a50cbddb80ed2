// Capacity: the last planning tick, each resource's capacity and how the plan allocates it by
// priority tier, and every class's planned bucket.
import { api } from '../api.js';
import { errorBox, esc, num, PRIORITY, tierName, time } from '../util.js';

function resourceHtml(r) {
  const cap = typeof r.capacity === 'number' && r.capacity > 0 ? r.capacity : null;
  const tiers = Array.isArray(r.by_tier) ? r.by_tier : [];
  const reserve = typeof r.reserve_fraction === 'number' && cap ? r.reserve_fraction * cap : 0;
  const pct = (v) => (cap ? Math.max(0, Math.min(100, (v / cap) * 100)) : 0);
  const segs = tiers.map((v, i) => `<span class="seg tier${i}" style="width:${pct(v).toFixed(3)}%" title="${esc(PRIORITY[i] ?? `tier ${i}`)}: ${num(v)}"></span>`).join('');
  const label = `${r.resource}: ${num(r.committed)} of ${num(r.capacity)} committed; ` +
    tiers.map((v, i) => `${PRIORITY[i] ?? `tier ${i}`} ${num(v)}`).join(', ') +
    (reserve ? `; reserve ${num(reserve)}` : '');
  return `<div class="resource" data-resource="${esc(r.resource)}">
    <h3>${esc(r.resource)}</h3>
    <div class="bar" role="img" aria-label="${esc(label)}">${segs}${reserve ? `<span class="reserve" style="width:${pct(reserve).toFixed(3)}%"></span>` : ''}</div>
    <table class="data compact"><thead><tr><th scope="col">Capacity</th><th scope="col">Reserve</th><th scope="col">Committed</th>
      ${tiers.map((_, i) => `<th scope="col"><span class="swatch tier${i}"></span>${esc(PRIORITY[i] ?? `tier ${i}`)}</th>`).join('')}</tr></thead>
      <tbody><tr><td class="n">${num(r.capacity)}</td><td class="n">${typeof r.reserve_fraction === 'number' ? `${num(r.reserve_fraction * 100, 1)} %` : '—'}</td>
      <td class="n">${num(r.committed)}${cap && typeof r.committed === 'number' ? ` (${num((r.committed / cap) * 100, 1)} %)` : ''}</td>
      ${tiers.map((v) => `<td class="n">${num(v)}</td>`).join('')}</tr></tbody></table></div>`;
}

export function capacity(root) {
  root.innerHTML = `<h1>Capacity and allocation</h1><div id="plan"></div>`;
  const box = root.querySelector('#plan');
  return {
    title: 'Capacity',
    async refresh() {
      try {
        const p = await api('/v1/plan');
        const tick = p.tick ?? {};
        const res = Array.isArray(p.capacity) ? p.capacity : [];
        const cls = Array.isArray(p.classes) ? p.classes : [];
        window.tidegate.charts.capacity = res;
        box.innerHTML = `<p id="tick">Last planning tick ${esc(time(tick.t))}: ${num(tick.classes)} classes in
            ${num(tick.duration_ms)} ms; ${num(tick.fallbacks)} fallbacks.</p>
          <section aria-labelledby="res-h"><h2 id="res-h">Resources</h2>
          ${res.length ? res.map(resourceHtml).join('') : '<p class="muted">No capacity configured: the plan is not constrained.</p>'}</section>
          <section aria-labelledby="pc-h"><h2 id="pc-h">Planned buckets (${cls.length})</h2>
          <div class="table-wrap"><table class="data"><thead><tr><th scope="col">Class</th><th scope="col">Tier</th>
          <th scope="col" class="n">Refill /s</th><th scope="col" class="n">Size</th><th scope="col" class="n">Target /s</th><th scope="col">Limited by</th></tr></thead>
          <tbody>${cls.map((c) => `<tr><th scope="row"><a href="#/class/${encodeURIComponent(c.class)}">${esc(c.class)}</a></th>
            <td>${esc(tierName(c.tier))}</td><td class="n">${num(c.rate_per_s)}</td><td class="n">${num(c.size)}</td>
            <td class="n">${num(c.explanation?.target_per_s)}</td><td>${esc(c.explanation?.limited_by)}</td></tr>`).join('')}</tbody></table></div></section>`;
      } catch (e) {
        box.innerHTML = errorBox(e, 'The plan');
      }
    },
  };
}

// Alerts: the daemon's alert rules and their state, and recent anomalies across classes.
import { api } from '../api.js';
import { ago, badge, errorBox, esc, num, time } from '../util.js';

const pairs = (o) => (o && typeof o === 'object'
  ? Object.entries(o).map(([k, v]) => `<span class="tag">${esc(k)}=${esc(v)}</span>`).join(' ') : '');

export function alerts(root) {
  root.innerHTML = `<h1>Alerts</h1><div id="alerts"></div>
    <section aria-labelledby="an-h"><h2 id="an-h">Anomalies in the last 24 hours</h2><div id="anomalies"></div></section>`;
  const box = root.querySelector('#alerts');
  const anBox = root.querySelector('#anomalies');
  async function loadAlerts() {
    try {
      const d = await api('/v1/alerts');
      const list = Array.isArray(d.alerts) ? d.alerts : [];
      const order = { firing: 0, pending: 1 };
      list.sort((a, b) => (order[a.state] ?? 2) - (order[b.state] ?? 2) || String(a.name).localeCompare(b.name));
      box.innerHTML = list.length ? `<div class="table-wrap"><table class="data" id="alerts-table"><thead><tr><th scope="col">Alert</th><th scope="col">State</th>
        <th scope="col">Labels</th><th scope="col">Summary</th><th scope="col">Since</th><th scope="col" class="n">Value</th></tr></thead>
        <tbody>${list.map((a) => `<tr><th scope="row">${esc(a.name)}</th><td>${badge(a.state)}</td><td>${pairs(a.labels)}</td>
        <td>${esc(a.annotations?.summary ?? a.annotations?.description ?? '')}</td><td title="${esc(time(a.since))}">${esc(ago(a.since))}</td>
        <td class="n">${num(a.value)}</td></tr>`).join('')}</tbody></table></div>` : '<p class="muted">No alerts.</p>';
    } catch (e) {
      box.innerHTML = errorBox(e, 'Alerts');
    }
  }
  async function loadAnomalies() {
    const since = new Date(Date.now() - 86400e3).toISOString();
    try {
      const d = await api(`/v1/anomalies?since=${encodeURIComponent(since)}`);
      const list = Array.isArray(d.anomalies) ? d.anomalies : [];
      list.sort((a, b) => Date.parse(b.t) - Date.parse(a.t));
      anBox.innerHTML = list.length ? `<div class="table-wrap"><table class="data"><thead><tr><th scope="col">Time</th><th scope="col">Class</th>
        <th scope="col" class="n">Value</th><th scope="col" class="n">Score</th><th scope="col">Kind</th></tr></thead>
        <tbody>${list.slice(0, 500).map((a) => `<tr><td>${esc(time(a.t))}</td><td><a href="#/class/${encodeURIComponent(a.class)}">${esc(a.class)}</a></td>
        <td class="n">${num(a.value)}</td><td class="n">${num(a.score, 3)}</td><td>${esc(a.kind)}</td></tr>`).join('')}</tbody></table></div>`
        : '<p class="muted">No anomalies.</p>';
    } catch (e) {
      anBox.innerHTML = errorBox(e, 'Anomalies');
    }
  }
  return { title: 'Alerts', refresh: () => Promise.all([loadAlerts(), loadAnomalies()]) };
}

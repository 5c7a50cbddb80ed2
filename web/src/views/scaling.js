// Scaling: replica recommendations per service from predicted demand.
import { api } from '../api.js';
import { ago, errorBox, esc, num, time } from '../util.js';

export function scaling(root) {
  root.innerHTML = `<h1>Scaling recommendations</h1><div id="scaling"></div>`;
  const box = root.querySelector('#scaling');
  return {
    title: 'Scaling',
    async refresh() {
      try {
        const d = await api('/v1/scaling');
        const list = Array.isArray(d.services) ? d.services : [];
        box.innerHTML = list.length ? `<div class="table-wrap"><table class="data" id="scaling-table"><thead><tr><th scope="col">Service</th>
          <th scope="col" class="n">Current</th><th scope="col" class="n">Recommended</th><th scope="col">Driving resource</th>
          <th scope="col">Predicted demand</th><th scope="col">Reason</th><th scope="col">Since</th></tr></thead>
          <tbody>${list.map((s) => {
            const delta = typeof s.recommended_replicas === 'number' && typeof s.current_replicas === 'number'
              ? s.recommended_replicas - s.current_replicas : 0;
            const dir = delta > 0 ? `<span class="up">▲ +${delta}</span>` : delta < 0 ? `<span class="down">▼ ${delta}</span>` : '';
            const demand = s.predicted_demand && typeof s.predicted_demand === 'object'
              ? Object.entries(s.predicted_demand).map(([k, v]) => `${esc(k)} ${num(v)}`).join(', ') : '';
            return `<tr><th scope="row">${esc(s.name)}</th><td class="n">${num(s.current_replicas)}</td>
              <td class="n">${num(s.recommended_replicas)} ${dir}</td><td>${esc(s.driving_resource)}</td><td>${demand}</td>
              <td>${esc(s.reason)}</td><td title="${esc(time(s.since))}">${esc(ago(s.since))}</td></tr>`;
          }).join('')}</tbody></table></div>` : '<p class="muted">No services configured for scaling.</p>';
      } catch (e) {
        box.innerHTML = errorBox(e, 'Scaling recommendations');
      }
    },
  };
}

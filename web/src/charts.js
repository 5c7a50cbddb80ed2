// uPlot charts of the class view. Each builder returns the uPlot instance and the exact arrays it
// plots, which the view publishes on window.tidegate.charts for tests and debugging.
import uPlot from 'uplot';

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function sizeOf(container) {
  return { width: Math.max(320, container.clientWidth || 800), height: 280 };
}

function keepSized(u, container) {
  const ro = new ResizeObserver(() => u.setSize(sizeOf(container)));
  ro.observe(container);
  return () => ro.disconnect();
}

const seconds = (t) => Date.parse(t) / 1000;

// Seconds since the epoch of each point's `t` (NaN when unparseable), parsed once.
function times(points) {
  const out = new Float64Array(points.length);
  for (let i = 0; i < points.length; ++i) out[i] = seconds(points[i].t);
  return out;
}

// Index of v in the sorted array xs, or -1.
function indexOf(xs, v) {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] < v) lo = mid + 1;
    else if (xs[mid] > v) hi = mid - 1;
    else return mid;
  }
  return -1;
}

// Aligns actual, forecast and anomaly points (each at its own timestamps) on one sorted x axis.
// Linear in the points apart from one typed-array sort: 30 days at a 1-minute step is ~45,000.
export function forecastSeries(resp) {
  const actual = Array.isArray(resp.actual) ? resp.actual : [];
  const forecast = Array.isArray(resp.forecast) ? resp.forecast : [];
  const anomalies = Array.isArray(resp.anomalies) ? resp.anomalies : [];
  const ta = times(actual);
  const tf = times(forecast);
  const tn = times(anomalies);
  const all = new Float64Array(ta.length + tf.length + tn.length);
  all.set(ta, 0);
  all.set(tf, ta.length);
  all.set(tn, ta.length + tf.length);
  all.sort();
  const x = [];
  for (const v of all) {
    if (!Number.isNaN(v) && (x.length === 0 || x[x.length - 1] !== v)) x.push(v);
  }
  const blank = () => new Array(x.length).fill(null);
  const s = { actual: blank(), mean: blank(), lower: blank(), upper: blank(), anomaly: blank() };
  const num = (v) => (typeof v === 'number' ? v : null);
  actual.forEach((p, i) => {
    const j = indexOf(x, ta[i]);
    if (j >= 0) s.actual[j] = num(p.value);
  });
  forecast.forEach((p, i) => {
    const j = indexOf(x, tf[i]);
    if (j < 0) return;
    s.mean[j] = num(p.mean);
    s.lower[j] = num(p.lower);
    s.upper[j] = num(p.upper);
  });
  anomalies.forEach((p, i) => {
    const j = indexOf(x, tn[i]);
    if (j >= 0) s.anomaly[j] = num(p.value);
  });
  return { x, ...s };
}

export function forecastChart(container, resp, unit) {
  const d = forecastSeries(resp);
  const level = resp.level ?? 95;
  const actualColor = css('--c-actual') || '#1f5fa8';
  const fcColor = css('--c-forecast') || '#b3261e';
  const opts = {
    ...sizeOf(container),
    scales: { x: { time: true } },
    series: [
      {},
      { label: 'actual', stroke: actualColor, width: 1.5, spanGaps: true },
      { label: 'forecast', stroke: fcColor, width: 1.5, dash: [6, 4], spanGaps: true },
      { label: `lower ${level}%`, stroke: 'rgba(179,38,30,0.45)', width: 1, spanGaps: true },
      { label: `upper ${level}%`, stroke: 'rgba(179,38,30,0.45)', width: 1, spanGaps: true },
      {
        label: 'anomaly', stroke: '#c25e00', fill: '#c25e00', paths: () => null,
        points: { show: true, size: 10, width: 2, fill: '#ffb15c', stroke: '#8a3d00' },
      },
    ],
    bands: [{ series: [4, 3], fill: 'rgba(179,38,30,0.13)' }],
    axes: [{}, { label: unit, size: 60 }],
    legend: { live: true },
  };
  const data = [d.x, d.actual, d.mean, d.lower, d.upper, d.anomaly];
  const u = new uPlot(opts, data, container);
  return { u, series: d, stop: keepSized(u, container) };
}

// New data for a live chart (same horizon, unit and level): keeps the canvas, legend and hover.
export function updateForecastChart(chart, resp) {
  const d = forecastSeries(resp);
  chart.u.setData([d.x, d.actual, d.mean, d.lower, d.upper, d.anomaly]);
  chart.series = d;
}

function planSeries(points) {
  const tp = times(points);
  let order = points.map((_, i) => i).filter((i) => !Number.isNaN(tp[i]));
  if (order.some((i, k) => k > 0 && tp[order[k - 1]] > tp[i])) order = order.sort((a, b) => tp[a] - tp[b]);
  const num = (v) => (typeof v === 'number' ? v : null);
  return {
    points: order.map((i) => points[i]),
    series: {
      x: order.map((i) => tp[i]),
      rate_per_s: order.map((i) => num(points[i].rate_per_s)),
      size: order.map((i) => num(points[i].size)),
    },
  };
}

export function updatePlanChart(chart, points) {
  const { points: pts, series: d } = planSeries(points);
  chart.points = pts;
  chart.series = d;
  chart.u.setData([d.x, d.rate_per_s, d.size]);
}

export function planChart(container, points, onHover) {
  const { points: pts, series: d } = planSeries(points);
  const chart = { points: pts, series: d };
  const stepped = uPlot.paths.stepped({ align: 1 });
  const opts = {
    ...sizeOf(container),
    scales: { x: { time: true }, size: {} },
    series: [
      {},
      { label: 'refill rate /s', stroke: css('--c-actual') || '#1f5fa8', width: 2, paths: stepped },
      { label: 'bucket size', stroke: '#2e7d32', width: 2, dash: [4, 3], paths: stepped, scale: 'size' },
    ],
    axes: [{}, { label: 'refill /s', size: 60 }, { side: 1, scale: 'size', label: 'size', size: 60, grid: { show: false } }],
    hooks: {
      setCursor: [(u) => {
        const i = u.cursor.idx;
        if (i !== null && i !== undefined && chart.points[i]) onHover(chart.points[i]);
      }],
    },
  };
  chart.u = new uPlot(opts, [d.x, d.rate_per_s, d.size], container);
  chart.stop = keepSized(chart.u, container);
  return chart;
}

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

// Aligns actual, forecast and anomaly points (each at its own timestamps) on one sorted x axis.
export function forecastSeries(resp) {
  const actual = Array.isArray(resp.actual) ? resp.actual : [];
  const forecast = Array.isArray(resp.forecast) ? resp.forecast : [];
  const anomalies = Array.isArray(resp.anomalies) ? resp.anomalies : [];
  const xs = new Set();
  for (const p of actual) xs.add(seconds(p.t));
  for (const p of forecast) xs.add(seconds(p.t));
  for (const p of anomalies) xs.add(seconds(p.t));
  xs.delete(NaN);
  const x = Float64Array.from(xs).sort();
  const at = new Map();
  x.forEach((v, i) => at.set(v, i));
  const blank = () => new Array(x.length).fill(null);
  const s = { actual: blank(), mean: blank(), lower: blank(), upper: blank(), anomaly: blank() };
  const put = (arr, t, v) => {
    const i = at.get(seconds(t));
    if (i !== undefined && typeof v === 'number') arr[i] = v;
  };
  for (const p of actual) put(s.actual, p.t, p.value);
  for (const p of forecast) {
    put(s.mean, p.t, p.mean);
    put(s.lower, p.t, p.lower);
    put(s.upper, p.t, p.upper);
  }
  for (const p of anomalies) put(s.anomaly, p.t, p.value);
  return { x: Array.from(x), ...s };
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

export function planChart(container, points, onHover) {
  const pts = points.filter((p) => !Number.isNaN(seconds(p.t)))
    .sort((a, b) => seconds(a.t) - seconds(b.t));
  const d = {
    x: pts.map((p) => seconds(p.t)),
    rate_per_s: pts.map((p) => (typeof p.rate_per_s === 'number' ? p.rate_per_s : null)),
    size: pts.map((p) => (typeof p.size === 'number' ? p.size : null)),
  };
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
        if (i !== null && i !== undefined && pts[i]) onHover(pts[i]);
      }],
    },
  };
  const u = new uPlot(opts, [d.x, d.rate_per_s, d.size], container);
  return { u, series: d, points: pts, stop: keepSized(u, container) };
}

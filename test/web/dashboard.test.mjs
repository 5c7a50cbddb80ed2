// Browser tests of the dashboard against the real tidegated, in Debian's chromium driven by
// playwright-core. Registered with CTest (test/web/CMakeLists.txt, label integration):
//
//   node test/web/dashboard.test.mjs --tidegated BUILD/src/exe/tidegated \
//     --node-modules BUILD/web/npm/node_modules --artifacts BUILD/test-artifacts/web \
//     [--chromium /usr/bin/chromium] [--measure --tidegate BUILD/src/exe/tidegate]
//
// Starts tidegated on a free loopback port with a temporary data directory and a config of three
// tenants, drives traffic through POST /v1/check, and checks the page against the API; then a
// daemon that requires tokens. Screenshots go to --artifacts. --measure also times the first load
// with 1,000 classes and a class view with 30 days of history (generated and imported with
// `tidegate generate` and `tidegate import`, served by the daemon's own routes), and prints the
// numbers (reported, never asserted).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { after, before, test } from 'node:test';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const TIDEGATED = arg('--tidegated');
const NODE_MODULES = arg('--node-modules');
const ARTIFACTS = path.resolve(arg('--artifacts', 'test-artifacts/web'));
const CHROMIUM = arg('--chromium', '/usr/bin/chromium');
const MEASURE = process.argv.includes('--measure');
const TIDEGATE = arg('--tidegate');
if (!TIDEGATED || !NODE_MODULES || (MEASURE && !TIDEGATE)) {
  console.error('usage: dashboard.test.mjs --tidegated PATH --node-modules DIR [--artifacts DIR] ' +
    '[--measure --tidegate PATH]');
  process.exit(2);
}
if (!fs.existsSync(CHROMIUM)) {
  console.error(`dashboard.test.mjs: no browser at ${CHROMIUM} (scripts/deps.sh test installs chromium)`);
  process.exit(1);
}
const { chromium } = createRequire(path.join(path.resolve(NODE_MODULES), 'noop.js'))('playwright-core');
fs.mkdirSync(ARTIFACTS, { recursive: true });

// ---------------------------------------------------------------------------------------------
// The daemon.

const CONFIGS = {
  'shop.yaml': `domain: shop
descriptors:
  - key: class
    value: checkout
    rate_limit: {unit: second, requests_per_unit: 200}
    priority: critical
    weight: 4
  - key: class
    value: browse
    rate_limit: {unit: second, requests_per_unit: 500}
    priority: normal
  - key: class
    value: export
    rate_limit: {unit: minute, requests_per_unit: 30}
    priority: low
`,
  'search.yaml': `domain: search
descriptors:
  - key: op
    value: query
    rate_limit: {unit: second, requests_per_unit: 50}
    priority: high
  - key: op
    value: suggest
    rate_limit: {unit: second, requests_per_unit: 5}
    priority: normal
`,
  'billing.yaml': `domain: billing
descriptors:
  - key: op
    value: invoice
    rate_limit: {unit: minute, requests_per_unit: 10}
    priority: critical
`,
};

function manyClassesConfig(n) {
  let y = 'domain: fleet\ndescriptors:\n';
  for (let i = 0; i < n; ++i) {
    y += `  - key: svc\n    value: s${String(i).padStart(4, '0')}\n` +
      `    rate_limit: {unit: second, requests_per_unit: ${10 + (i % 90)}}\n    priority: ${i % 4}\n`;
  }
  return y;
}

// tidegated on a free port with `configs` (file name -> YAML) in a fresh directory; with
// `historyDays`, the data directory first receives that many days of generated usage at a
// 1-minute step (`tidegate generate` + `tidegate import`, as scripts/demo.sh does).
async function startDaemon(configs, { historyDays } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tidegate-web-'));
  const confDir = path.join(dir, 'config');
  fs.mkdirSync(confDir);
  for (const [name, text] of Object.entries(configs)) fs.writeFileSync(path.join(confDir, name), text);
  if (historyDays) {
    const usage = path.join(dir, 'usage.jsonl');
    execFileSync(TIDEGATE, ['generate', '--days', String(historyDays), '--step-s', '60', '--output', usage], { stdio: 'ignore' });
    execFileSync(TIDEGATE, ['import', usage, '--data-dir', path.join(dir, 'data'), '--step-s', '60'], { stdio: 'ignore' });
    fs.rmSync(usage);
  }
  const child = spawn(TIDEGATED, ['--config', confDir, '--data-dir', path.join(dir, 'data'),
    '--http-listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tidegated did not listen within 60 s:\n${log}`)), 60000);
    const onData = (b) => {
      log += b;
      const m = /HTTP listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(log);
      if (m) { clearTimeout(timer); resolve(Number(m[1])); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tidegated exited (${code}):\n${log}`)); });
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; ++i) {
    const r = await fetch(`${base}/readyz`).catch(() => null);
    if (r && r.ok) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  return {
    base, dir, child, log: () => log,
    async stop() {
      child.removeAllListeners('exit');
      const done = new Promise((res) => child.once('exit', res));
      child.kill('SIGTERM');
      await done;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function get(base, p, token) {
  const r = await fetch(base + p, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  const body = await r.json();
  return { status: r.status, body };
}

async function check(base, domain, entries, hits = 1) {
  const r = await fetch(`${base}/v1/check`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ domain, descriptors: [{ entries, hits_addend: hits }] }),
  });
  assert.equal(r.status, 200, `POST /v1/check: ${await r.text()}`);
}

// Numbers as the page prints them ("1,234.5", "—").
const parseShown = (s) => (s.trim() === '—' ? null : Number(s.replace(/,/g, '')));
const near = (a, b) => Math.abs(a - b) <= 0.01 * Math.max(1, Math.abs(b));

// ---------------------------------------------------------------------------------------------

let daemon;
let browser;
let page;
const problems = [];  // Console errors and page errors that are not API answers.
let cutOff = false;   // While the test cuts the page off from the daemon on purpose.

before(async () => {
  daemon = await startDaemon(CONFIGS);
  // Traffic: enough to refuse some requests of the small buckets.
  const traffic = [
    ['shop', [{ key: 'class', value: 'checkout' }], 40],
    ['shop', [{ key: 'class', value: 'browse' }], 25],
    ['shop', [{ key: 'class', value: 'export' }], 35],
    ['search', [{ key: 'op', value: 'query' }], 20],
    ['search', [{ key: 'op', value: 'suggest' }], 12],
    ['billing', [{ key: 'op', value: 'invoice' }], 14],
  ];
  for (const [domain, entries, n] of traffic) {
    for (let i = 0; i < n; ++i) await check(daemon.base, domain, entries);
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  watch(page, daemon.base);
});

// Collects a page's console errors and uncaught exceptions into `problems`.
function watch(p, base) {
  p.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  p.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chromium logs every 4xx/5xx fetch as "Failed to load resource"; those the daemon answered
    // with its JSON error are shown on the page (checked below), not a fault of the page.
    const url = m.location()?.url ?? '';
    const api = url.startsWith(`${base}/v1/`);
    if (api && /^Failed to load resource: the server responded with a status of [45]\d\d/.test(m.text())) return;
    if (api && cutOff && /^Failed to load resource: net::/.test(m.text())) return;
    problems.push(`console error: ${m.text()} (${url ?? ''})`);
  });
}

after(async () => {
  await browser?.close();
  await daemon?.stop();
});

test('GET / and /assets/ serve the embedded dashboard with caching headers', async () => {
  const r = await fetch(`${daemon.base}/`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/html/);
  assert.equal(r.headers.get('cache-control'), 'no-cache');
  const etag = r.headers.get('etag');
  assert.match(etag, /^"[0-9a-f]{32}"$/);
  const html = await r.text();
  const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  const css = /href="(\/assets\/[^"]+\.css)"/.exec(html)?.[1];
  assert.ok(js && css, `index.html names its assets: ${html}`);
  const again = await fetch(`${daemon.base}/`, { headers: { 'If-None-Match': etag } });
  assert.equal(again.status, 304);
  for (const [p, type] of [[js, /^text\/javascript/], [css, /^text\/css/]]) {
    const a = await fetch(daemon.base + p);
    assert.equal(a.status, 200, p);
    assert.match(a.headers.get('content-type'), type);
    assert.equal(a.headers.get('cache-control'), 'public, max-age=31536000, immutable');
    assert.ok((await a.arrayBuffer()).byteLength > 1000);
  }
  const missing = await get(daemon.base, '/assets/nope.js');
  assert.equal(missing.status, 404);
  assert.match(missing.body.error.message, /no such dashboard asset/);
});

test('the overview lists every class of GET /v1/classes with its numbers', async () => {
  await page.goto(`${daemon.base}/#/`);
  const api = (await get(daemon.base, '/v1/classes')).body.classes;
  assert.ok(api.length >= 6, `the config's classes are listed: ${api.map((c) => c.key)}`);
  await page.waitForFunction((n) => document.querySelectorAll('#classes tbody tr[data-key]').length === n, api.length);
  await page.getByLabel('Live').uncheck();  // Freeze the table while comparing.
  const rows = await page.$$eval('#classes tbody tr[data-key]', (trs) => trs.map((tr) => ({
    key: tr.dataset.key,
    cells: [...tr.children].map((td) => td.textContent),
  })));
  const headers = await page.$$eval('#classes thead th', (ths) => ths.map((th) => th.dataset.col));
  const col = (name) => headers.indexOf(name);
  assert.deepEqual(rows.map((r) => r.key).sort(), api.map((c) => c.key).sort());
  const fresh = (await get(daemon.base, '/v1/classes')).body.classes;
  for (const c of fresh) {
    const row = rows.find((r) => r.key === c.key);
    assert.equal(row.cells[col('tenant')], c.tenant, `${c.key} tenant`);
    assert.ok(near(parseShown(row.cells[col('rate_per_s')]), c.rate_per_s), `${c.key} rate: ${row.cells[col('rate_per_s')]} vs ${c.rate_per_s}`);
    assert.ok(near(parseShown(row.cells[col('size')]), c.size), `${c.key} size`);
    assert.equal(parseShown(row.cells[col('admitted')]), c.decisions.ok, `${c.key} admitted`);
    assert.equal(parseShown(row.cells[col('refused')]), c.decisions.over_limit, `${c.key} refused`);
    if (c.planned_rate_per_s !== undefined) {
      assert.ok(near(parseShown(row.cells[col('planned_rate_per_s')]), c.planned_rate_per_s), `${c.key} planned rate`);
    }
    if (c.state !== undefined) assert.equal(row.cells[col('state')], c.state, `${c.key} state`);
  }
  const refused = fresh.filter((c) => c.decisions.over_limit > 0);
  assert.ok(refused.length > 0, 'the traffic refused some requests (the table shows them)');

  // Search, then sort by refusals from the keyboard.
  await page.getByRole('searchbox', { name: 'Search' }).fill('search/');
  assert.equal(await page.locator('#classes tbody tr[data-key]').count(), fresh.filter((c) => c.key.includes('search/')).length);
  await page.getByRole('searchbox', { name: 'Search' }).fill('');
  await page.locator('#classes th[data-col="refused"] button').focus();
  await page.keyboard.press('Enter');
  await page.keyboard.press('Enter');  // Second press: descending.
  assert.equal(await page.locator('#classes th[data-col="refused"]').getAttribute('aria-sort'), 'descending');
  const top = await page.locator('#classes tbody tr[data-key]').first().getAttribute('data-key');
  const most = Math.max(...fresh.map((c) => c.decisions.over_limit));
  assert.equal(fresh.find((c) => c.key === top).decisions.over_limit, most);

  // Tenants: the table, or the API's error when the daemon has no /v1/tenants.
  const tenants = await get(daemon.base, '/v1/tenants');
  if (tenants.status === 200) {
    const names = await page.$$eval('#tenants-table tbody th', (ths) => ths.map((t) => t.textContent));
    assert.deepEqual(names.sort(), tenants.body.tenants.map((t) => t.name).sort());
  } else {
    await assertShowsError(page.locator('#tenants'), tenants.body.error.message);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });
});

async function assertShowsError(locator, message) {
  const box = locator.locator('[role=alert]');
  await box.waitFor();
  const text = await box.textContent();
  assert.ok(text.includes(message), `the page shows the API's error "${message}", got "${text}"`);
}

const KEY = 'shop/class=checkout';
const classPathOf = (key) => `/v1/classes/${encodeURIComponent(key)}`;

test("a class view's charts hold the API's series (or show the API's error)", async () => {
  await page.goto(`${daemon.base}/#/class/${encodeURIComponent(KEY)}`);
  await page.waitForFunction(() => window.tidegate.charts.forecast && window.tidegate.charts.plans);
  const c = (await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}`)).body;
  const shown = await page.locator('#class-summary [data-field="rate_per_s"]').textContent();
  assert.ok(near(parseShown(shown), c.rate_per_s), `summary rate ${shown} vs ${c.rate_per_s}`);

  for (const h of ['1m', '1h', '1d']) {
    await page.getByLabel(h, { exact: true }).check();
    await page.waitForFunction((hz) => window.tidegate.charts.forecast?.horizon === hz, h);
    const api = await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}/forecast?horizon=${h}`);
    const chart = await page.evaluate(() => window.tidegate.charts.forecast);
    if (api.status !== 200) {
      assert.equal(chart.error !== undefined, true, `${h}: no chart without data`);
      await assertShowsError(page.locator('#forecast-error'), api.body.error.message);
      continue;
    }
    assertForecastMatches(chart, api.body, h);
  }
  // A longer span of history: the page asks for at most one point per pixel of the chart, the
  // address keeps the choice, and the chart holds what the daemon answered to that request.
  await page.getByLabel('History').selectOption({ label: '7 days' });
  await page.waitForFunction(() => window.tidegate.charts.forecast?.span === '7d');
  assert.match(page.url(), /#\/class\/[^?]+\?horizon=1d&history=7d$/);
  const request = await page.evaluate(() => performance.getEntriesByType('resource')
    .map((e) => new URL(e.name)).filter((u) => /\/forecast$/.test(u.pathname) && u.searchParams.get('history') === '7d')
    .at(-1).search);
  const width = await page.evaluate(() => document.querySelector('#forecast-chart').clientWidth);
  assert.equal(new URLSearchParams(request).get('points'), String(width));
  const spanApi = await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}/forecast${request}`);
  if (spanApi.status === 200) {
    assert.ok(Math.ceil(7 * 86400 / spanApi.body.actual_step_s) <= width, `step ${spanApi.body.actual_step_s} s`);
    assert.ok(spanApi.body.actual.length <= width);
    assertForecastMatches(await page.evaluate(() => window.tidegate.charts.forecast), spanApi.body, '1d over 7 days');
  } else {
    await assertShowsError(page.locator('#forecast-error'), spanApi.body.error.message);
  }
  const since = await page.evaluate(() => window.tidegate.charts.plans.since);
  const plans = await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}/plans?since=${encodeURIComponent(since)}`);
  const chart = await page.evaluate(() => window.tidegate.charts.plans);
  if (plans.status !== 200) {
    await assertShowsError(page.locator('#plan-error'), plans.body.error.message);
  } else {
    // Plans made between the two requests may be newer than the chart's; compare the chart's.
    for (const p of plans.body.points) {
      const i = chart.x.indexOf(Date.parse(p.t) / 1000);
      if (i < 0) continue;
      assert.ok(near(chart.rate_per_s[i], p.rate_per_s) && near(chart.size[i], p.size), `plan at ${p.t}`);
    }
    assert.ok(chart.x.length > 0 || plans.body.points.length === 0);
  }
  await page.screenshot({ path: path.join(ARTIFACTS, 'class.png'), fullPage: true });
});

function assertForecastMatches(chart, api, h) {
  const at = (t) => chart.x.indexOf(Date.parse(t) / 1000);
  for (const p of api.actual) {
    const i = at(p.t);
    assert.ok(i >= 0 && near(chart.actual[i], p.value), `${h}: actual at ${p.t}`);
  }
  for (const p of api.forecast) {
    const i = at(p.t);
    assert.ok(i >= 0, `${h}: forecast at ${p.t}`);
    assert.ok(near(chart.mean[i], p.mean) && near(chart.lower[i], p.lower) && near(chart.upper[i], p.upper),
      `${h}: forecast ${p.t} mean/lower/upper`);
  }
  for (const a of api.anomalies) assert.ok(near(chart.anomaly[at(a.t)], a.value), `${h}: anomaly at ${a.t}`);
}

test('an override made through the form shows in GET /v1/classes/{key}', async () => {
  await page.goto(`${daemon.base}/#/class/${encodeURIComponent(KEY)}`);
  const form = page.locator('#override-form');
  await form.getByLabel('Refill rate /s').fill('7.5');
  await form.getByLabel('Bucket size').fill('15');
  await form.getByLabel('For').fill('10');
  await form.getByLabel('Unit').selectOption({ label: 'minutes' });
  await form.getByRole('button', { name: 'Apply override' }).click();
  await page.locator('#override-result [role=status]').waitFor();
  const c = (await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}`)).body;
  assert.equal(c.override.rate_per_s, 7.5);
  assert.equal(c.override.size, 15);
  assert.equal(c.rate_per_s, 7.5);
  assert.equal(c.size, 15);
  const ttl = (Date.parse(c.override.expires_at) - Date.now()) / 1000;
  assert.ok(ttl > 540 && ttl <= 600, `expires in about 10 minutes (${ttl} s)`);
  await page.locator('#override-active').waitFor();
  assert.equal(parseShown(await page.locator('#class-summary [data-field="rate_per_s"]').textContent()), 7.5);

  // The daemon refuses a 40-year override; the page shows its reason.
  await form.getByLabel('For').fill('350000');
  await form.getByLabel('Unit').selectOption({ label: 'hours' });
  await form.getByRole('button', { name: 'Apply override' }).click();
  const body = await (await fetch(`${daemon.base}/v1/overrides`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ class: KEY, rate_per_s: 7.5, size: 15, ttl_seconds: 350000 * 3600 }),
  })).json();
  await assertShowsError(page.locator('#override-result'), body.error.message);
  // Nothing given: the form says so before asking the daemon.
  await form.getByLabel('Refill rate /s').fill('');
  await form.getByLabel('Bucket size').fill('');
  await form.getByRole('button', { name: 'Apply override' }).click();
  await assertShowsError(page.locator('#override-result'), 'Give a refill rate, a bucket size, or both.');
  await page.screenshot({ path: path.join(ARTIFACTS, 'override.png'), fullPage: true });

  // Removing it from the page restores the configured bucket.
  await page.getByRole('button', { name: 'Remove override' }).click();
  await page.locator('#override-result [role=status]').waitFor();
  const after = (await get(daemon.base, `/v1/classes/${encodeURIComponent(KEY)}`)).body;
  assert.equal(after.override, null);
  assert.equal(after.rate_per_s, 200);
});

test('API errors show as messages, never a blank view', async () => {
  const bad = 'shop/class=nonexistent';
  await page.goto(`${daemon.base}/#/class/${encodeURIComponent(bad)}`);
  const api = await get(daemon.base, `/v1/classes/${encodeURIComponent(bad)}`);
  assert.equal(api.status, 404);
  await assertShowsError(page.locator('#class-info'), api.body.error.message);
  await page.screenshot({ path: path.join(ARTIFACTS, 'error.png'), fullPage: true });

  for (const [view, route, box, check] of [
    ['capacity', '/v1/plan', '#plan', async (b) => {
      const n = await page.locator('.resource').count();
      assert.equal(n, b.capacity.length);
    }],
    ['alerts', '/v1/alerts', '#alerts', async (b) => {
      if (b.alerts.length) assert.equal(await page.locator('#alerts-table tbody tr').count(), b.alerts.length);
    }],
    ['scaling', '/v1/scaling', '#scaling', async (b) => {
      if (b.services.length) assert.equal(await page.locator('#scaling-table tbody tr').count(), b.services.length);
    }],
  ]) {
    await page.goto(`${daemon.base}/#/${view}`);
    const r = await get(daemon.base, route);
    if (r.status === 200) {
      await page.locator(`${box} > *`).first().waitFor();
      await check(r.body);
    } else {
      await assertShowsError(page.locator(box), r.body.error.message);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, `${view}.png`), fullPage: true });
  }

  // A daemon that stopped answering: the view says so.
  await page.goto(`${daemon.base}/#/`);
  await page.locator('#classes tbody tr[data-key]').first().waitFor();
  cutOff = true;
  await page.route('**/v1/classes', (r) => r.abort('connectionrefused'));
  await page.evaluate(() => window.dispatchEvent(new HashChangeEvent('hashchange')));
  await assertShowsError(page.locator('#classes-error'), 'tidegated did not answer');
  await page.unroute('**/v1/classes');
  cutOff = false;
  await page.reload();
  await page.locator('#classes tbody tr[data-key]').first().waitFor();
});

test('keyboard: skip link, navigation and visible focus', async () => {
  await page.goto(`${daemon.base}/#/`);
  await page.locator('#classes tbody tr[data-key]').first().waitFor();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
  const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert.equal(outline, 'solid', 'focus is visible');
  await page.keyboard.press('Tab');  // brand
  await page.keyboard.press('Tab');  // Overview
  await page.keyboard.press('Tab');  // Capacity
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => window.tidegate.view === 'capacity');
  // Every form control has an accessible name.
  await page.goto(`${daemon.base}/#/class/${encodeURIComponent(KEY)}`);
  await page.locator('#override-form').waitFor();
  const unnamed = await page.$$eval('input, select, button', (els) => els
    .filter((e) => !(e.labels?.length) && !e.getAttribute('aria-label') && !e.textContent.trim())
    .map((e) => e.outerHTML));
  assert.deepEqual(unnamed, []);
  const charts = await page.$$eval('[role=img]', (els) => els.map((e) => e.getAttribute('aria-label')));
  assert.ok(charts.length >= 2 && charts.every((l) => l && l.length > 10), `charts have names: ${charts}`);
});

test('auth: the page asks for a token; a read token cannot override, an admin token can', async () => {
  const READ = 'tg_dashboard-viewer-secret';
  const ADMIN = 'tg_dashboard-operator-secret';
  const sha = (t) => createHash('sha256').update(t).digest('hex');
  const secured = await startDaemon({
    ...CONFIGS,
    'auth.yaml': `auth:\n  required: true\n  tokens:\n` +
      `    - {id: viewer, sha256: ${sha(READ)}, scopes: [read], tenants: "*"}\n` +
      `    - {id: operator, sha256: ${sha(ADMIN)}, scopes: [admin], tenants: "*"}\n`,
  });
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const p = await ctx.newPage();
  watch(p, secured.base);
  try {
    const anonymous = await get(secured.base, '/v1/classes');
    assert.equal(anonymous.status, 401);

    // No token: the form, focused, says why; the view shows the API's 401 as a message.
    await p.goto(`${secured.base}/#/`);
    const prompt = p.getByRole('region', { name: 'Access token needed' });
    await prompt.waitFor();
    await p.waitForFunction(() => document.activeElement?.id === 'auth-token');
    assert.ok((await p.locator('#auth-why').textContent()).includes(anonymous.body.error.message));
    await assertShowsError(p.locator('#classes-error'), anonymous.body.error.message);
    await p.screenshot({ path: path.join(ARTIFACTS, 'auth-prompt.png') });

    // From the keyboard: a wrong token is refused with the daemon's reason.
    await p.keyboard.type('tg_not-a-token');
    await p.keyboard.press('Enter');
    await p.waitForFunction(() => /refused the token/.test(document.querySelector('#auth-why').textContent));
    const wrong = await get(secured.base, '/v1/classes', 'tg_not-a-token');
    assert.equal(wrong.status, 401);
    assert.ok((await p.locator('#auth-why').textContent()).includes(wrong.body.error.message));

    // The read token: the overview loads; the token is kept in this tab's sessionStorage.
    await p.getByLabel('Access token', { exact: true }).fill(READ);
    await p.getByRole('button', { name: 'Sign in' }).click();
    const classes = (await get(secured.base, '/v1/classes', READ)).body.classes;
    await p.waitForFunction((n) => document.querySelectorAll('#classes tbody tr[data-key]').length === n, classes.length);
    assert.ok(await prompt.isHidden());
    assert.equal(await p.evaluate(() => sessionStorage.getItem('tidegate.token')), READ);
    assert.ok(await p.getByRole('button', { name: 'Sign out' }).isVisible());

    // It may read a class but not override it: the page says so with the daemon's reason.
    await p.goto(`${secured.base}/#/class/${encodeURIComponent(KEY)}`);
    await p.locator('#class-summary').waitFor();
    const form = p.locator('#override-form');
    await form.getByLabel('Refill rate /s').fill('3');
    await form.getByLabel('For').fill('5');
    await form.getByRole('button', { name: 'Apply override' }).click();
    const denied = await fetch(`${secured.base}/v1/overrides`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${READ}` },
      body: JSON.stringify({ class: KEY, rate_per_s: 3, ttl_seconds: 300 }),
    });
    assert.equal(denied.status, 403);
    const deniedMessage = (await denied.json()).error.message;
    await assertShowsError(p.locator('#override-result'), deniedMessage);
    assert.match(await p.locator('#override-result [role=alert]').textContent(), /not permitted with this token/);
    assert.equal((await get(secured.base, classPathOf(KEY), ADMIN)).body.override, null);
    await p.screenshot({ path: path.join(ARTIFACTS, 'auth-forbidden.png'), fullPage: true });

    // Sign out: the token is forgotten and the form is back.
    await p.getByRole('button', { name: 'Sign out' }).click();
    await prompt.waitFor();
    assert.equal(await p.evaluate(() => sessionStorage.getItem('tidegate.token')), null);

    // The admin token may override.
    await p.getByLabel('Access token', { exact: true }).fill(ADMIN);
    await p.getByLabel('Access token', { exact: true }).press('Enter');
    await p.locator('#class-summary').waitFor();
    await form.getByLabel('Refill rate /s').fill('3');
    await form.getByLabel('For').fill('5');
    await form.getByRole('button', { name: 'Apply override' }).click();
    await p.locator('#override-result [role=status]').waitFor();
    const c = (await get(secured.base, classPathOf(KEY), ADMIN)).body;
    assert.equal(c.override.rate_per_s, 3);
    assert.equal(c.rate_per_s, 3);
    await p.locator('#override-active').waitFor();
  } finally {
    await ctx.close();
    await secured.stop();
  }
});

test('no console errors or uncaught exceptions on any view', () => {
  assert.deepEqual(problems, []);
});

// ---------------------------------------------------------------------------------------------
// Measurements (--measure): reported, not asserted.

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The planning loop's classes over 30 days of generated history (the generator's shop tenant).
const HISTORY_CONFIG = `domain: shop
descriptors:
  - key: class
    value: checkout
    descriptors:
      - key: op
        value: write
        rate_limit: {unit: second, requests_per_unit: 500}
        priority: critical
        predict: {model: ets, margin: 0.2, lead_time: 5m}
  - key: class
    value: browse
    descriptors:
      - key: op
        value: read
        rate_limit: {unit: second, requests_per_unit: 2000}
        predict: {model: snaive}
store: {step: 60s}
`;

test('measure: first load with 1,000 classes; class view with 30 days of history', { skip: !MEASURE }, async () => {
  const big = await startDaemon({ 'fleet.yaml': manyClassesConfig(1000), 'shop.yaml': HISTORY_CONFIG },
    { historyDays: 30 });
  try {
    const n = (await get(big.base, '/v1/classes')).body.classes.length;
    assert.ok(n >= 1002, `the fleet's 1,000 classes and the shop's: ${n}`);
    const total = n.toLocaleString('en-US');
    const pages = Math.ceil(n / 100);
    // In-page times from navigation start, each run in a fresh browser context (nothing cached):
    // the table's first rows in the DOM, then the next frame painted (two animation frames
    // later), and how long GET /v1/classes took (the daemon's share) and how many bytes it sent.
    const loads = { rows: [], painted: [], api: [] };
    let bytes = null;
    for (let run = 0; run < 5; ++run) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const p = await ctx.newPage();
      await p.goto(`${big.base}/#/`);
      const t = await p.evaluate((all) => new Promise((resolve) => {
        const poll = () => {
          if (!(document.querySelector('#page-info')?.textContent ?? '').endsWith(` of ${all}`)) return requestAnimationFrame(poll);
          const rows = performance.now();
          requestAnimationFrame(() => requestAnimationFrame(() => {
            const api = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/v1/classes');
            resolve({ rows, painted: performance.now(), api: api.responseEnd - api.startTime,
              encoded: api.encodedBodySize, decoded: api.decodedBodySize });
          }));
        };
        poll();
      }), total);
      for (const k of Object.keys(loads)) loads[k].push(Math.round(t[k]));
      bytes = { encoded: t.encoded, decoded: t.decoded };
      if (run === 0) {
        await p.screenshot({ path: path.join(ARTIFACTS, 'overview-1000.png') });
        const seen = new Set();
        for (let pg = 0; pg < pages; ++pg) {
          for (const k of await p.$$eval('#classes tbody tr[data-key]', (trs) => trs.map((tr) => tr.dataset.key))) seen.add(k);
          if (pg < pages - 1) await p.locator('#page-next').click();
        }
        assert.equal(seen.size, n, 'the pages hold every class');
        assert.ok(await p.locator('#page-next').isDisabled());
      }
      await ctx.close();
    }
    console.log(`MEASURE first page load, ${total} classes (first 100 rows shown): rows in DOM median ${median(loads.rows)} ms ` +
      `(${loads.rows.join(', ')}); painted median ${median(loads.painted)} ms (${loads.painted.join(', ')}); ` +
      `of which GET /v1/classes median ${median(loads.api)} ms (${loads.api.join(', ')}), ` +
      `${bytes.encoded} bytes sent (${bytes.decoded} bytes of JSON)`);

    // A class view over the 30 days of history, at the 1-day horizon, once the daemon has trained
    // on it: GET /v1/classes/{key}, …/forecast?horizon=1d&history=30d&points=<chart width> and
    // …/plans, all served by the daemon.
    const key = 'shop/class=checkout,op=write';
    const t0 = Date.now();
    let trained = false;
    while (!trained && Date.now() - t0 < 600000) {
      trained = (await get(big.base, `${classPathOf(key)}/forecast?horizon=1d`)).body.model !== null;
      if (!trained) await new Promise((res) => setTimeout(res, 1000));
    }
    assert.ok(trained, `the daemon trained on the history of ${key} within 10 minutes:\n${big.log()}`);
    const times = [];
    let shown = null;
    for (let run = 0; run < 10; ++run) {
      const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const p = await ctx.newPage();
      await p.goto(`${big.base}/#/`);
      await p.locator('#classes tbody tr[data-key]').first().waitFor();
      // Runs 0-4: opened as soon as the first rows show; runs 5-9: once the page has settled (it
      // fetches the class view's chunk while idle), as when someone reads the table first.
      if (run >= 5) await p.waitForFunction(() => window.tidegate.classViewLoaded === true);
      // From the change of address to both charts drawn with the 30 days and the frame painted.
      const m = await p.evaluate((k) => new Promise((resolve) => {
        const start = performance.now();
        location.hash = `#/class/${encodeURIComponent(k)}?horizon=1d&history=30d`;
        const poll = () => {
          const f = window.tidegate.charts.forecast;
          if (!(f && f.span === '30d' && window.tidegate.charts.plans && document.querySelector('#forecast-chart canvas') &&
            document.querySelector('#plan-chart canvas'))) return requestAnimationFrame(poll);
          requestAnimationFrame(() => requestAnimationFrame(() => {
            const fc = performance.getEntriesByType('resource').find((e) => /\/forecast\?/.test(e.name));
            resolve({ ms: performance.now() - start, bytes: fc.decodedBodySize, url: new URL(fc.name).search });
          }));
        };
        poll();
      }), key);
      times.push(Math.round(m.ms));
      if (run === 0) {
        await p.screenshot({ path: path.join(ARTIFACTS, 'class-30d.png'), fullPage: true });
        const chart = await p.evaluate(() => window.tidegate.charts.forecast);
        assert.equal(chart.error, undefined, chart.error);
        const api = (await get(big.base, `${classPathOf(key)}/forecast${m.url}`)).body;
        const days = (Date.parse(api.actual.at(-1).t) - Date.parse(api.actual[0].t)) / 86400000;
        assert.ok(days > 29, `30 days of history (${days.toFixed(1)})`);
        assertForecastMatches(chart, api, '1d over 30 days');
        shown = { points: api.actual.length, step: api.actual_step_s, bytes: m.bytes, query: m.url };
      }
      await ctx.close();
    }
    const [early, settled] = [times.slice(0, 5), times.slice(5)];
    console.log(`MEASURE class view, 30 days of history at horizon 1d (${shown.points} history points of ` +
      `${shown.step} s, forecast${shown.query}: ${shown.bytes} bytes of JSON): opened at the first rows ` +
      `median ${median(early)} ms (${early.join(', ')}); opened once the page settled median ` +
      `${median(settled)} ms (${settled.join(', ')})`);
  } finally {
    await big.stop();
  }
});

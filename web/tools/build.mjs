// Bundles the dashboard (src/) into static assets: index.html plus content-hashed JS and CSS under
// assets/ — the entry (app-*.js, app-*.css) and the chunks loaded on demand (chunk-*.js: the class
// view with its chart library, which the first page does not need). Run by the CMake build;
// `npm run build` does the same into web/dist.
//
//   node tools/build.mjs --out DIR [--node-modules DIR] [--no-minify]
//
// --node-modules names where `npm ci` installed the dependencies (the build tree keeps the source
// tree clean); by default web/node_modules.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const webDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  if (i + 1 >= process.argv.length) {
    console.error(`build.mjs: ${name} needs a value`);
    process.exit(2);
  }
  return path.resolve(process.argv[i + 1]);
}

const outDir = arg('--out', null);
if (!outDir) {
  console.error('usage: node tools/build.mjs --out DIR [--node-modules DIR]');
  process.exit(2);
}
const nodeModules = arg('--node-modules', path.join(webDir, 'node_modules'));
const require = createRequire(path.join(nodeModules, 'noop.js'));
let esbuild;
try {
  esbuild = require('esbuild');
} catch (e) {
  console.error(`build.mjs: esbuild is not installed in ${nodeModules} (run npm ci there): ${e.message}`);
  process.exit(1);
}

fs.rmSync(outDir, { recursive: true, force: true });
fs.mkdirSync(path.join(outDir, 'assets'), { recursive: true });

const result = await esbuild.build({
  entryPoints: { app: path.join(webDir, 'src', 'main.js') },
  bundle: true,
  minify: !process.argv.includes('--no-minify'),
  format: 'esm',
  splitting: true,
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: path.join(outDir, 'assets'),
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  nodePaths: [nodeModules],
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const [entryPath, entry] = Object.entries(result.metafile.outputs)
  .find(([, o]) => o.entryPoint && o.entryPoint.endsWith('main.js')) ?? [];
const js = entryPath && path.basename(entryPath);
const css = entry?.cssBundle && path.basename(entry.cssBundle);
if (!js || !css) {
  console.error(`build.mjs: expected the entry's .js and its .css among ${outputs.join(', ')}`);
  process.exit(1);
}
// The chunks the entry imports statically are fetched with it, not after it has been parsed.
const preloads = entry.imports.filter((i) => i.kind === 'import-statement')
  .map((i) => `<link rel="modulepreload" href="/assets/${path.basename(i.path)}">`).join('\n');
const template = fs.readFileSync(path.join(webDir, 'src', 'index.html'), 'utf8');
const html = template
  .replace('{{APP_CSS}}', `/assets/${css}`)
  .replace('{{APP_JS}}', `/assets/${js}`)
  .replace('{{PRELOADS}}', preloads);
if (html.includes('{{')) {
  console.error('build.mjs: src/index.html has an unknown {{placeholder}}');
  process.exit(1);
}
fs.writeFileSync(path.join(outDir, 'index.html'), html);
console.log(`dashboard assets: ${['index.html', ...outputs.map((f) => `assets/${f}`)].join(', ')}`);

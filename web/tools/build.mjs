// Bundles the dashboard (src/) into static assets: index.html plus content-hashed JS and CSS under
// assets/. Run by the CMake build; `npm run build` does the same into web/dist.
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
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: path.join(outDir, 'assets'),
  entryNames: '[name]-[hash]',
  nodePaths: [nodeModules],
  metafile: true,
  legalComments: 'linked',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((p) => path.basename(p));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
if (!js || !css) {
  console.error(`build.mjs: expected one .js and one .css output, got ${outputs.join(', ')}`);
  process.exit(1);
}
const template = fs.readFileSync(path.join(webDir, 'src', 'index.html'), 'utf8');
const html = template
  .replace('{{APP_CSS}}', `/assets/${css}`)
  .replace('{{APP_JS}}', `/assets/${js}`);
if (html.includes('{{')) {
  console.error('build.mjs: src/index.html has an unknown {{placeholder}}');
  process.exit(1);
}
fs.writeFileSync(path.join(outDir, 'index.html'), html);
console.log(`dashboard assets: ${['index.html', ...outputs.map((f) => `assets/${f}`)].join(', ')}`);

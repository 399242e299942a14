// For each BPMN file, opens it in bpmn-js's viewer and procmap's SVG of it in headless
// Chromium, and compares the box of every element's outline (the first child of bpmn-js's
// visual; the `.outline` of procmap's group). Prints each mismatch and a summary line; exits
// 1 when any element is missing or off by more than TOLERANCE pixels.
//
//   node deploy/render_compare.mjs TOOLS_DIR SVG_DIR FILE...
import { createRequire } from 'node:module';
import { readFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

const TOLERANCE = 3;
const [tools, svgDir, ...files] = process.argv.slice(2);
const require = createRequire(resolve(tools, 'node_modules', 'package.json'));
const { chromium } = require('playwright-core');
const viewerBundle = readFileSync(
  resolve(tools, 'node_modules/bpmn-js/dist/bpmn-viewer.production.min.js'), 'utf8');
const shots = process.env.RENDER_COMPARE_SHOTS;
if (shots) mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(e.message));
await page.setContent('<html><body style="margin:0"><div id="canvas" style="width:1600px;height:1000px"></div></body></html>');
await page.addScriptTag({ content: viewerBundle });

let compared = 0;
let elements = 0;
const failures = [];
for (const file of files) {
  const svgPath = join(svgDir, basename(dirname(file)), basename(file).replace(/\.bpmn$/, '.svg'));
  if (!existsSync(svgPath)) {
    failures.push(`${file}: procmap drew no picture`);
    continue;
  }
  const xml = readFileSync(file, 'utf8');
  const ours = readFileSync(svgPath, 'utf8');
  const result = await page.evaluate(async ({ xml, ours }) => {
    const container = document.getElementById('canvas');
    container.innerHTML = '';
    const viewer = new window.BpmnJS({ container });
    try {
      await viewer.importXML(xml);
    } catch (error) {
      return { error: `bpmn-js cannot open it: ${error.message}` };
    }
    const registry = viewer.get('elementRegistry');
    // Only the first plane: a collapsed sub-process's inside is a plane of its own (drill-down),
    // which procmap's picture, like bpmn-js's first view, does not show.
    const root = viewer.get('canvas').getRootElement();
    const topOf = (element) => (element.parent ? topOf(element.parent) : element);
    const theirs = {};
    for (const element of registry.getAll()) {
      if (element.type === 'label' || element.hidden || !element.parent) continue;
      if (topOf(element) !== root) continue;
      const gfx = registry.getGraphics(element);
      const outline = gfx && gfx.querySelector('.djs-visual > :not(defs)');
      if (!outline) continue;
      const box = outline.getBBox();
      // Shapes are drawn in their own translated group; connections in absolute coordinates.
      const dx = element.waypoints ? 0 : element.x;
      const dy = element.waypoints ? 0 : element.y;
      theirs[element.id] = { x: box.x + dx, y: box.y + dy, width: box.width, height: box.height };
    }
    viewer.destroy();
    const holder = document.createElement('div');
    holder.innerHTML = ours;
    document.body.appendChild(holder);
    const mine = {};
    for (const group of holder.querySelectorAll('g[data-element-id]')) {
      const outline = group.querySelector(':scope > .outline');
      if (!outline) continue;
      const box = outline.getBBox();
      mine[group.getAttribute('data-element-id')] = { x: box.x, y: box.y, width: box.width, height: box.height };
    }
    holder.remove();
    return { theirs, mine };
  }, { xml, ours });
  if (result.error) {
    failures.push(`${file}: ${result.error}`);
    continue;
  }
  compared += 1;
  for (const [id, theirs] of Object.entries(result.theirs)) {
    elements += 1;
    const mine = result.mine[id];
    if (!mine) {
      failures.push(`${file}: ${id} is drawn by bpmn-js but not by procmap`);
      continue;
    }
    const off = ['x', 'y', 'width', 'height'].filter((k) => Math.abs(mine[k] - theirs[k]) > TOLERANCE);
    if (off.length > 0) {
      const show = (b) => `${b.x.toFixed(1)},${b.y.toFixed(1)} ${b.width.toFixed(1)}×${b.height.toFixed(1)}`;
      failures.push(`${file}: ${id} is at ${show(mine)}, bpmn-js draws it at ${show(theirs)}`);
    }
  }
  if (shots) {
    const name = basename(file, '.bpmn');
    const shotPage = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await shotPage.setContent(`<html><body style="margin:0">${ours}</body></html>`);
    await shotPage.screenshot({ path: join(shots, `${name}.procmap.png`), fullPage: true });
    await shotPage.setContent('<html><body style="margin:0"><div id="c" style="width:1400px;height:900px"></div></body></html>');
    await shotPage.addScriptTag({ content: viewerBundle });
    await shotPage.evaluate(async (xml) => {
      const viewer = new window.BpmnJS({ container: document.getElementById('c') });
      await viewer.importXML(xml);
      viewer.get('canvas').zoom('fit-viewport');
    }, xml);
    await shotPage.screenshot({ path: join(shots, `${name}.bpmn-js.png`) });
    await shotPage.close();
  }
}
await browser.close();

for (const failure of failures.slice(0, 40)) console.log(failure);
if (pageErrors.length > 0) console.log(`page errors: ${pageErrors.slice(0, 5).join('; ')}`);
console.log(`render-compare: ${compared} of ${files.length} files, ${elements} elements compared with bpmn-js, ${failures.length} mismatches (tolerance ${TOLERANCE} px)`);
process.exit(failures.length > 0 || compared < files.length ? 1 : 0);

// Opens .bpmn files the way bpmn-js, and so Camunda Modeler, imports them: bpmn-moddle parses
// the XML, then bpmn-js's own tree walker pairs every element with its DI. Prints each warning
// either reports, one line per file that has any, and exits 1 when some file has one.
//
//   node deploy/bpmnjs_check.mjs TOOLS_DIR FILE...
import { createRequire, register } from 'node:module';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

// bpmn-js ships sources written for bundlers, with relative imports that omit ".js".
register('data:text/javascript,' + encodeURIComponent(`
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (specifier.startsWith('.') && !specifier.endsWith('.js')) {
      return next(specifier + '.js', context);
    }
    throw error;
  }
}`));

const [tools, ...files] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(resolve(tools, 'node_modules', path)).href);
// The parser bpmn-js itself depends on, found the way bpmn-js finds it (npm may nest it or not).
const fromBpmnJs = createRequire(resolve(tools, 'node_modules', 'bpmn-js', 'package.json'));
const moddle = await import(pathToFileURL(fromBpmnJs.resolve('bpmn-moddle')).href);
const BpmnModdle = [moddle.default, moddle.default?.default, moddle.BpmnModdle]
  .find((candidate) => typeof candidate === 'function');
const { default: BpmnTreeWalker } = await load('bpmn-js/lib/import/BpmnTreeWalker.js');

let failed = 0;
for (const file of files) {
  const problems = [];
  try {
    const { rootElement, warnings } = await new BpmnModdle().fromXML(readFileSync(file, 'utf8'));
    problems.push(...warnings.map((w) => w.message));
    const walker = new BpmnTreeWalker({
      root: () => ({}),
      element: () => ({}),
      error: (message) => problems.push(message),
    });
    walker.handleDefinitions(rootElement, rootElement.diagrams && rootElement.diagrams[0]);
  } catch (error) {
    problems.push(`cannot be opened: ${error.message}`);
  }
  if (problems.length > 0) {
    failed += 1;
    console.log(`${file}: ${problems.slice(0, 3).join('; ')}`);
  }
}
console.log(`bpmn-js: ${files.length - failed} of ${files.length} open without warnings`);
process.exit(failed > 0 ? 1 : 0);

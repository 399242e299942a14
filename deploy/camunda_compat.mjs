// Lints Camunda 7 and Camunda 8 diagrams with bpmnlint's camunda-compat plugin, the rules Camunda
// Modeler applies for the engine version a diagram names (modeler:executionPlatform and
// executionPlatformVersion), with the camunda: and zeebe: extensions understood as the Modeler
// understands them. For each source, the refinements written beside it must have no error the
// source did not have. Prints each new error and exits 1 when there is one.
//
//   node deploy/camunda_compat.mjs TOOLS_DIR SOURCE_DIR REFINED_DIR
//
// A refinement of SOURCE_DIR/name.bpmn is any REFINED_DIR/foreign_name_*.bpmn
// (deploy/conformance.sh writes them so).
import { createRequire } from 'node:module';
import { readFileSync, readdirSync } from 'node:fs';
import { basename, resolve } from 'node:path';

const [tools, sourceDir, refinedDir] = process.argv.slice(2);
const require = createRequire(resolve(tools, 'node_modules', 'package.json'));
const { Linter } = require('bpmnlint');
const NodeResolver = require('bpmnlint/lib/resolver/node-resolver');
const BpmnModdle = require('bpmn-moddle');
const modeler = require('modeler-moddle/resources/modeler.json');
// The two engines' extensions cannot be registered together (both define modelerTemplate), so
// each diagram is parsed with those of the platform it names, as Camunda Modeler does.
function extensionsFor(xml) {
  return /executionPlatform="Camunda Cloud"/.test(xml)
    ? { modeler, zeebe: require('zeebe-bpmn-moddle/resources/zeebe.json') }
    : { modeler, camunda: require('camunda-bpmn-moddle/resources/camunda.json') };
}

// "Camunda Cloud" 8.6.0 -> camunda-cloud-8-6; "Camunda Platform" 7.22.0 -> camunda-platform-7-22.
function configFor(definitions) {
  const platform = definitions.get('modeler:executionPlatform');
  const version = definitions.get('modeler:executionPlatformVersion');
  if (!platform || !version) return null;
  const [major, minor] = version.split('.');
  return `plugin:camunda-compat/${platform.toLowerCase().replace(/ /g, '-')}-${major}-${minor}`;
}

async function errors(file, config) {
  const xml = readFileSync(file, 'utf8');
  const { rootElement, warnings } = await new BpmnModdle(extensionsFor(xml)).fromXML(xml);
  if (warnings.length > 0) {
    throw new Error(`${file} does not parse cleanly: ${warnings[0].message}`);
  }
  const chosen = config ?? configFor(rootElement);
  if (!chosen) return { config: null, found: new Set() };
  const linter = new Linter({ config: { extends: chosen }, resolver: new NodeResolver({ require }) });
  const reports = await linter.lint(rootElement);
  const found = new Set();
  for (const [rule, list] of Object.entries(reports)) {
    for (const report of list) {
      if (report.category === 'error') found.add(`${rule} ${report.id}: ${report.message}`);
    }
  }
  return { config: chosen, found };
}

let failed = 0;
let checked = 0;
const refined = readdirSync(refinedDir);
for (const name of readdirSync(sourceDir).filter((f) => f.endsWith('.bpmn')).sort()) {
  const stem = basename(name, '.bpmn');
  const source = await errors(resolve(sourceDir, name));
  if (!source.config) {
    console.log(`${name}: names no Camunda execution platform, not checked`);
    continue;
  }
  for (const other of refined.filter((f) => f.startsWith(`foreign_${stem}_`)).sort()) {
    const after = await errors(resolve(refinedDir, other), source.config);
    checked += 1;
    for (const error of after.found) {
      if (!source.found.has(error)) {
        console.log(`${other} (${source.config}): new error ${error}`);
        failed += 1;
      }
    }
  }
}
console.log(`camunda-compat: ${checked} refinements checked, ${failed} new errors`);
process.exit(failed > 0 ? 1 : 0);

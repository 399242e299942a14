// Validates KEDA resources against KEDA's own CRD schemas (npm: @kubernetes-models/keda), which
// kubernetes-validate does not carry. Exits non-zero on any invalid or unknown resource.
//
//   node deploy/keda_check.mjs TOOLS_DIR FILE...   (deploy/check_deploy.sh installs the packages
//   under TOOLS_DIR)
import fs from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";

const [tools, ...files] = process.argv.slice(2);
const require = createRequire(resolve(tools, "node_modules", "package.json"));
const yaml = require("js-yaml");
const { ScaledObject, TriggerAuthentication } = require("@kubernetes-models/keda/keda.sh/v1alpha1");

const kinds = { ScaledObject, TriggerAuthentication };
let failed = 0;
for (const file of files) {
  for (const doc of yaml.loadAll(fs.readFileSync(file, "utf8"))) {
    const Kind = kinds[doc.kind];
    if (!Kind) {
      console.error(`${file}: no KEDA schema for kind ${doc.kind}`);
      failed++;
      continue;
    }
    try {
      new Kind(doc).validate();
      console.log(`${file}: ${doc.kind} ${doc.metadata.name} is valid`);
    } catch (e) {
      console.error(`${file}: ${e.message}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);

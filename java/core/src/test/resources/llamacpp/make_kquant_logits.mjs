// make_kquant_logits.mjs: llama.cpp's per-position logits for the K-quant agreement test
// (io.transfuse.quantize.LlamaCppKQuantAgreementTest). Loads each GGUF file (written by Transfuse's own
// quantizer: `transfuse make-model --preset kquant-tiny --seed 7 --dtype TYPE`) in llama.cpp through
// node-llama-cpp (prebuilt CPU binaries), feeds the fixed token ids below teacher-forced in one batch
// and records the logits at every position. Writes gzip JSON to OUT:
//   {"tokens": [...], "models": {"q4_k_m": [[logit per vocab entry] per position], ...}}
// Usage: NODE_PATH=.../node_modules node make_kquant_logits.mjs OUT.json.gz TYPE=FILE.gguf...
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { pathToFileURL } from "node:url";

const [out, ...models] = process.argv.slice(2);
if (!out || models.length === 0) {
  console.error("usage: node make_kquant_logits.mjs OUT.json.gz TYPE=FILE.gguf...");
  process.exit(1);
}
const req = createRequire(path.join(path.resolve(process.env.NODE_PATH.split(":")[0]), "..", "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);

// BOS, then pseudo-random ids in [3, 512) (the kquant-tiny vocabulary): no tokenizer involved.
const tokens = [1];
let s = 777;
while (tokens.length < 16) {
  s = (s * 1103515245 + 12345) % 2147483648;
  tokens.push(3 + (s % 509));
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const result = { tokens, models: {} };
for (const spec of models) {
  const [type, file] = spec.split("=");
  const model = await llama.loadModel({ modelPath: path.resolve(file), gpuLayers: 0 });
  const context = await model.createContext({ contextSize: 128, batchSize: 64, threads: 2, sequences: 1 });
  const seq = context.getSequence();
  const items = tokens.map((t) => [t, { generateNext: { logits: true } }]);
  const res = await seq.controlledEvaluate(items);
  // logits come as a Map from token id to logit
  result.models[type] = res.map((r) => {
    const m = r.next.logits;
    return Array.from({ length: m.size }, (_, id) => {
      if (!m.has(id)) throw new Error(`${type}: no logit for token ${id}`);
      return Number(m.get(id).toPrecision(6));
    });
  });
  await context.dispose();
  await model.dispose();
  console.error(`${type}: ${res.length} positions x ${result.models[type][0].length} logits`);
}
fs.writeFileSync(out, zlib.gzipSync(JSON.stringify(result)));

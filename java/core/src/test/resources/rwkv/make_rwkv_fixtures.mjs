// make_rwkv_fixtures.mjs: llama.cpp's tokenization and per-position logits for the RWKV agreement tests
// (io.transfuse.model.rwkv.RwkvLlamaCppTest, io.transfuse.tokenizer.RwkvWorldTokenizerTest). Loads each GGUF
// file (written by Transfuse: `transfuse make-model --preset rwkv6-tiny|rwkv7-tiny`, seed 1, f32) in llama.cpp
// through node-llama-cpp 3.22.1 (prebuilt CPU binaries, llama.cpp of its v0.5.0 bundle: archs rwkv6 and rwkv7,
// tokenizer "rwkv"), tokenizes the texts below with its RWKV world tokenizer, feeds the first text's tokens
// teacher-forced in one batch and records the logits at every position. Writes JSON to OUT:
//   {"texts": [...], "tokens": [[ids] per text], "logits": [[logit per vocab entry] per position of text 0]}
// Usage: NODE_PATH=.../node_modules node make_rwkv_fixtures.mjs OUT.json MODEL.gguf
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [out, file] = process.argv.slice(2);
if (!out || !file) {
  console.error("usage: node make_rwkv_fixtures.mjs OUT.json MODEL.gguf");
  process.exit(1);
}
const req = createRequire(path.join(path.resolve(process.env.NODE_PATH.split(":")[0]), "..", "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);

const texts = [
  "Hello world, the quick brown fox jumps over the lazy dog.\n\nThe RWKV model don't",
  "caf\u00e9 \u4e2d\u6587\u5b57 \u3053\u3093\u306b\u3061\u306f \ud83d\ude00 2025...!?",
  "\\n is a backslash and an n; 'quoted' \"text\"\t\ttabs\r\n",
  "<s> stays text: the control token's bytes match like any other",
];

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const model = await llama.loadModel({ modelPath: path.resolve(file), gpuLayers: 0 });
const tokens = texts.map((t) => Array.from(model.tokenize(t, false)));
const context = await model.createContext({ contextSize: 256, batchSize: 128, threads: 2, sequences: 1 });
const seq = context.getSequence();
const res = await seq.controlledEvaluate(tokens[0].map((t) => [t, { generateNext: { logits: true } }]));
const logits = res.map((r) => {
  const m = r.next.logits;
  return Array.from({ length: m.size }, (_, id) => {
    if (!m.has(id)) throw new Error(`no logit for token ${id}`);
    return Number(m.get(id).toPrecision(7));
  });
});
await context.dispose();
await model.dispose();
fs.writeFileSync(out, JSON.stringify({ texts, tokens, logits }));
console.error(`${file}: ${tokens.map((t) => t.length).join(", ")} tokens; ${logits.length} positions x ${logits[0].length} logits`);

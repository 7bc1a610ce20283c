// ci/llama-logits.mjs: llama.cpp's reference outputs for a GGUF file, through node-llama-cpp (prebuilt CPU build).
// Teacher-forces TOKENS (comma-separated ids) into an empty sequence and records the raw logits after every
// position, then continues greedily for GEN tokens (argmax of llama.cpp's own logits) and records those ids.
// Prints one JSON object: {"model", "llama_cpp", "tokens", "logits": [[...vocab] per position], "greedy": [...],
// "greedy_gaps": [top-1 minus top-2 logit at each greedy step]}.
// Usage: TRANSFUSE_NODE_HOME=build/bench/node node ci/llama-logits.mjs MODEL.gguf --tokens 1,2,3 [--gen 16] [--ctx 256]
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

function fail(msg) {
  console.error(`llama-logits: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length < 1 || args[0].startsWith("--")) fail("usage: node ci/llama-logits.mjs MODEL.gguf --tokens IDS [--gen N] [--ctx N]");
const modelPath = path.resolve(args[0]);
const opt = { tokens: "", gen: "16", ctx: "256" };
for (let i = 1; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, "");
  if (!(key in opt) || args[i + 1] === undefined) fail(`bad option ${args[i]}`);
  opt[key] = args[i + 1];
}
const tokens = opt.tokens.split(",").filter((s) => s.length > 0).map(Number);
if (tokens.length === 0 || tokens.some((t) => !Number.isInteger(t) || t < 0)) fail("--tokens must be comma-separated token ids");

const home = process.env.TRANSFUSE_NODE_HOME;
if (!home) fail("TRANSFUSE_NODE_HOME (the folder holding node_modules/node-llama-cpp) is not set");
const req = createRequire(path.join(path.resolve(home), "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);
const version = JSON.parse(await (await import("node:fs/promises")).readFile(
  path.join(path.resolve(home), "node_modules", "node-llama-cpp", "package.json"), "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const model = await llama.loadModel({ modelPath });
const context = await model.createContext({ contextSize: Number(opt.ctx), batchSize: Number(opt.ctx), threads: 2 });
const sequence = context.getSequence();

const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);
const rows = [];
const items = tokens.map((t) => [t, { generateNext: { logits: true } }]);
const out = await sequence.controlledEvaluate(items);
for (let i = 0; i < tokens.length; i++) {
  const logits = out[i]?.next?.logits;
  if (!logits) fail(`no logits for position ${i}`);
  const dense = [];
  for (const [id, v] of logits) dense[id] = v;
  rows.push(Array.from(dense, (v) => (v === undefined ? null : Number(v.toPrecision(6)))));
}
const greedy = [], gaps = [];
let last = rows[rows.length - 1];
for (let g = 0; g < Number(opt.gen); g++) {
  const vals = last.map((v) => (v === null || v === undefined ? -Infinity : v));
  const next = argmax(vals);
  greedy.push(next);
  const top = vals[next];
  vals[next] = -Infinity;
  gaps.push(Number((top - vals[argmax(vals)]).toPrecision(6)));
  const r = await sequence.controlledEvaluate([[next, { generateNext: { logits: true } }]]);
  const dense = [];
  for (const [id, v] of r[0].next.logits) dense[id] = v;
  last = Array.from(dense);
}
console.log(JSON.stringify({ model: path.basename(modelPath), llama_cpp: `node-llama-cpp ${version}`, tokens, logits: rows, greedy, greedy_gaps: gaps }));
await context.dispose();
await model.dispose();

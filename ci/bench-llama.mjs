// ci/bench-llama.mjs: the llama.cpp peer of ci/bench.sh. Loads a GGUF file with node-llama-cpp's
// prebuilt CPU binaries (no GPU, no source build) and times, like `transfuse bench`:
//   prefill: PROMPT token ids evaluated into an empty sequence (one batch), tokens/s;
//   decode:  GEN greedy steps after that prompt, one token each, tokens/s.
// Median/min/max over REPS repetitions after WARMUP unmeasured ones; prints one JSON object.
// Usage: node ci/bench-llama.mjs MODEL.gguf [--threads 2] [--prompt 128] [--gen 32] [--reps 5] [--warmup 1]
// The module is resolved from NODE_PATH's node-llama-cpp (ci/bench.sh installs it under build/bench/node).
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

function fail(msg) {
  console.error(`bench-llama: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length < 1 || args[0].startsWith("--")) fail("usage: node ci/bench-llama.mjs MODEL.gguf [--threads N] [--prompt N] [--gen N] [--reps N] [--warmup N]");
const modelPath = path.resolve(args[0]);
const opt = { threads: 2, prompt: 128, gen: 32, reps: 5, warmup: 1 };
for (let i = 1; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, "");
  const val = Number(args[i + 1]);
  if (!(key in opt) || !Number.isInteger(val) || val < 0) fail(`bad option ${args[i]} ${args[i + 1] ?? ""}`);
  opt[key] = val;
}

// node-llama-cpp is installed outside the repository (build/bench/node): resolve it from there.
const home = process.env.TRANSFUSE_NODE_HOME;
if (!home) fail("TRANSFUSE_NODE_HOME (the folder holding node_modules/node-llama-cpp) is not set; run ci/bench.sh");
let llamaModule;
try {
  const req = createRequire(path.join(path.resolve(home), "package.json"));
  llamaModule = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);
} catch (e) {
  fail(`cannot load node-llama-cpp from ${home}: ${e.message}`);
}
const { getLlama, LlamaLogLevel } = llamaModule;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: opt.threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const context = await model.createContext({
  contextSize: Math.max(256, opt.prompt + opt.gen + 8),
  batchSize: Math.max(opt.prompt, 1),
  threads: { ideal: opt.threads, min: opt.threads },
  sequences: 1,
});
const seq = context.getSequence();

// Fixed pseudo-random prompt ids (as `transfuse bench`: no tokenizer involved), BOS first.
const prompt = [1];
let s = 12345;
while (prompt.length < opt.prompt) {
  s = (s * 1103515245 + 12345) % 2147483648;
  prompt.push(3 + (s % 31000));
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const prefill = [], decode = [];
for (let rep = 0; rep < opt.warmup + opt.reps; rep++) {
  await seq.clearHistory();
  const t0 = now();
  await seq.evaluateWithoutGeneratingNewTokens(prompt);
  const t1 = now();
  // Greedy decode: the sequence's own sampler with temperature 0; the first generated token
  // needs one more evaluation of the last prompt token's logits, so we count GEN evaluations.
  let n = 0, tStart = 0;
  const it = seq.evaluate([prompt[prompt.length - 1]], { temperature: 0 });
  for await (const _tok of it) {
    if (n === 0) tStart = now();
    n++;
    if (n > opt.gen) break;
  }
  const t2 = now();
  if (rep >= opt.warmup) {
    prefill.push(opt.prompt / (t1 - t0));
    decode.push(opt.gen / (t2 - tStart));
  }
}

function stat(v) {
  const a = [...v].sort((x, y) => x - y);
  const m = a.length % 2 ? a[(a.length - 1) / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
  return { median: m, min: a[0], max: a[a.length - 1] };
}
console.log(JSON.stringify({
  engine: "llama.cpp (node-llama-cpp)",
  model: modelPath,
  threads: opt.threads,
  promptTokens: opt.prompt,
  genTokens: opt.gen,
  repetitions: opt.reps,
  prefill: stat(prefill),
  decode: stat(decode),
  prefill_tok_s: prefill,
  decode_tok_s: decode,
}));
await context.dispose();
await model.dispose();
await llama.dispose();

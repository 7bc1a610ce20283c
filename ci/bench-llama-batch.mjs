// ci/bench-llama-batch.mjs: the llama.cpp peer of `transfuse bench --engine` (ci/bench.sh's "engine xC"
// rows). Loads a GGUF file with node-llama-cpp's prebuilt CPU binaries and, for each concurrency C, makes
// one context with C sequences (`sequences: C`, each with its own KV cells) and runs C greedy generations
// at once: each sequence's token stream is consumed concurrently (Promise.all), and node-llama-cpp joins
// the evaluations that are pending in the same cycle into one llama_decode, so every step decodes one
// token of every sequence (continuous batching as llama.cpp's server does it).
// Measured as EngineBench measures Transfuse:
//   decode: tokens generated after the step that gave the last sequence its first token, up to the step
//           in which the first one produced its last token, over that wall time (all C decoding);
//   TTFT:   from the start of the round (all prompts submitted together) to each sequence's first token,
//           mean/p50/p90 over the sequences; end-to-end: all tokens over the round's wall time;
//   TTFT under load: C-1 sequences generating, then one more prompt: time to its first token.
// Prompts: BOS then distinct pseudo-random ids (no tokenizer involved), new ones every round.
// Usage: node ci/bench-llama-batch.mjs MODEL.gguf [--threads 2] [--prompt 32] [--gen 64]
//        [--concurrency 1,4,16,64] [--reps 1] [--warmup 1] [--vocab 32000]
// node-llama-cpp is resolved from TRANSFUSE_NODE_HOME (ci/bench.sh installs it under build/bench/node).
// Prints one JSON object.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

function fail(msg) {
  console.error(`bench-llama-batch: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
const usage = "usage: node ci/bench-llama-batch.mjs MODEL.gguf [--threads N] [--prompt N] [--gen N] [--concurrency 1,4,16,64] [--reps N] [--warmup N] [--vocab N]";
if (args.length < 1 || args[0].startsWith("--")) fail(usage);
const modelPath = path.resolve(args[0]);
const opt = { threads: 2, prompt: 32, gen: 64, reps: 1, warmup: 1, vocab: 32000 };
let concurrency = [1, 4, 16, 64];
for (let i = 1; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, "");
  if (key === "concurrency") {
    concurrency = String(args[i + 1] ?? "").split(",").map(Number);
    if (!concurrency.length || concurrency.some(c => !Number.isInteger(c) || c < 1)) fail(`bad --concurrency ${args[i + 1] ?? ""}; ${usage}`);
    continue;
  }
  const val = Number(args[i + 1]);
  if (!(key in opt) || !Number.isInteger(val) || val < 0) fail(`bad option ${args[i]} ${args[i + 1] ?? ""}; ${usage}`);
  opt[key] = val;
}
if (opt.prompt < 2 || opt.gen < 2 || opt.reps < 1 || opt.vocab < 4) fail("--prompt and --gen must be >= 2, --reps >= 1, --vocab >= 4");

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

const now = () => Number(process.hrtime.bigint()) / 1e9;
let seed = 20261205;
function prompt() {
  const p = [1];
  while (p.length < opt.prompt) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    p.push(3 + (seed % (opt.vocab - 3)));
  }
  return p;
}

/** Greedy tokens of one sequence until `until(count)` says stop; the time of each token. */
async function generate(seq, tokens, until) {
  const times = [];
  for await (const _tok of seq.evaluate(tokens, { temperature: 0 })) {
    times.push(now());
    if (until(times.length)) break;
  }
  return times;
}

/** C sequences, each `gen` tokens, all started together. */
async function round(seqs, gen) {
  await Promise.all(seqs.map(s => s.clearHistory()));
  const prompts = seqs.map(() => prompt());
  const t0 = now();
  const times = await Promise.all(seqs.map((s, i) => generate(s, prompts[i], n => n >= gen)));
  const t1 = now();
  const start = Math.max(...times.map(t => t[0])), end = Math.min(...times.map(t => t[t.length - 1]));
  let inWindow = 0;
  for (const t of times) for (const x of t) if (x > start && x <= end) inWindow++;
  return {
    decode: end > start ? inWindow / (end - start) : NaN,
    endToEnd: times.reduce((a, t) => a + t.length, 0) / (t1 - t0),
    ttft: times.map(t => (t[0] - t0) * 1000),
  };
}

/** C-1 sequences generating; then one more prompt on the last sequence: its time to first token (ms). */
async function ttftUnderLoad(seqs) {
  await Promise.all(seqs.map(s => s.clearHistory()));
  const background = seqs.slice(0, -1), probeSeq = seqs[seqs.length - 1];
  const room = opt.prompt + 4 * opt.gen;
  let stop = false, started = 0;
  const running = background.map(s => generate(s, prompt(), n => {
    if (n === 1) started++;
    return stop || opt.prompt + n >= room;
  }));
  while (started < background.length) await new Promise(r => setTimeout(r, 1));
  const t0 = now();
  const probe = await generate(probeSeq, prompt(), () => true);
  const ttft = (probe[0] - t0) * 1000;
  stop = true;
  await Promise.all(running);
  return ttft;
}

function stat(v) {
  const a = [...v].sort((x, y) => x - y);
  const q = p => {
    const at = p * (a.length - 1), lo = Math.floor(at), hi = Math.min(a.length - 1, lo + 1);
    return a[lo] + (at - lo) * (a[hi] - a[lo]);
  };
  return { mean: a.reduce((x, y) => x + y, 0) / a.length, p50: q(0.5), p90: q(0.9) };
}

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: opt.threads });
const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
const levels = [];
for (const c of concurrency) {
  const context = await model.createContext({
    contextSize: opt.prompt + 4 * opt.gen + 16, // per sequence (node-llama-cpp multiplies by `sequences`)
    sequences: c,
    threads: { ideal: opt.threads, min: opt.threads },
  });
  const seqs = Array.from({ length: c }, () => context.getSequence());
  for (let w = 0; w < opt.warmup; w++) await round(seqs, Math.min(opt.gen, 8));
  const decode = [], endToEnd = [], ttft = [], underLoad = [];
  for (let r = 0; r < opt.reps; r++) {
    const res = await round(seqs, opt.gen);
    decode.push(res.decode);
    endToEnd.push(res.endToEnd);
    ttft.push(...res.ttft);
    underLoad.push(await ttftUnderLoad(seqs));
  }
  const level = { concurrency: c, decode_tok_s: decode, end_to_end_tok_s: endToEnd, ttft_ms: stat(ttft), ttft_under_load_ms: underLoad };
  levels.push(level);
  // Each level as it completes (a slow run that is stopped early keeps what it measured)
  console.error(`llama.cpp x${c}: decode ${decode.map(x => x.toFixed(2)).join(", ")} tok/s, TTFT p50 ${stat(ttft).p50.toFixed(1)} ms, under load ${underLoad.map(x => x.toFixed(1)).join(", ")} ms`);
  console.error(`level ${JSON.stringify(level)}`);
  for (const s of seqs) s.dispose();
  await context.dispose();
}
console.log(JSON.stringify({
  engine: "llama.cpp (node-llama-cpp)",
  model: modelPath,
  threads: opt.threads,
  prompt_tokens: opt.prompt,
  gen_tokens: opt.gen,
  repetitions: opt.reps,
  levels,
}));
await model.dispose();
await llama.dispose();

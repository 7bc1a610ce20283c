// ci/llama-tokenize.mjs: llama.cpp's token ids for texts, through node-llama-cpp (prebuilt CPU build), for the
// tokenizer reference fixtures. DIR holds texts.json (a JSON list of strings) and one or more vocabulary GGUF files;
// each file is loaded vocabulary-only and every text tokenized with special tokens parsed and none added
// (model.tokenize(text, true)). Prints one JSON object: {"llama_cpp": version, "texts": [...], NAME: [[ids] per text]}
// with NAME each file's name without ".gguf".
// Usage: TRANSFUSE_NODE_HOME=build/bench/node node ci/llama-tokenize.mjs DIR
import { createRequire } from "node:module";
import fs from "node:fs/promises";
import path from "node:path";
import { pathToFileURL } from "node:url";

function fail(msg) {
  console.error(`llama-tokenize: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length !== 1) fail("usage: node ci/llama-tokenize.mjs DIR (with texts.json and *.gguf)");
const dir = path.resolve(args[0]);
const texts = JSON.parse(await fs.readFile(path.join(dir, "texts.json"), "utf8"));
if (!Array.isArray(texts) || texts.some((t) => typeof t !== "string")) fail(`${dir}/texts.json must be a list of strings`);
const files = (await fs.readdir(dir)).filter((f) => f.endsWith(".gguf")).sort();
if (files.length === 0) fail(`no .gguf file in ${dir}`);

const home = process.env.TRANSFUSE_NODE_HOME;
if (!home) fail("TRANSFUSE_NODE_HOME (the folder holding node_modules/node-llama-cpp) is not set");
const req = createRequire(path.join(path.resolve(home), "package.json"));
const { getLlama, LlamaLogLevel } = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);
const version = JSON.parse(await fs.readFile(path.join(path.resolve(home), "node_modules", "node-llama-cpp", "package.json"), "utf8")).version;

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 2 });
const out = { llama_cpp: `node-llama-cpp ${version}`, texts };
for (const f of files) {
  const model = await llama.loadModel({ modelPath: path.join(dir, f), vocabOnly: true });
  out[f.replace(/\.gguf$/, "")] = texts.map((t) => Array.from(model.tokenize(t, true)));
  await model.dispose();
}
process.stdout.write(JSON.stringify(out) + "\n");

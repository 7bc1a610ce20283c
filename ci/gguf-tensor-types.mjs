// ci/gguf-tensor-types.mjs: the type of every tensor of GGUF files, read by node-llama-cpp's own GGUF parser
// (readGgufFileInfo), so a test can hold llama.cpp's per-tensor quantisation choices without the files themselves.
// Prints one JSON object: {"llama_cpp": "node-llama-cpp VERSION", "files": {KEY: {TENSOR: "Q4_K", ...}, ...}},
// type names as ggml.h spells them (ggml's enum ggml_type, upper case).
// Usage: TRANSFUSE_NODE_HOME=build/bench/node node ci/gguf-tensor-types.mjs KEY=FILE.gguf [KEY=FILE.gguf...]
import { createRequire } from "node:module";
import path from "node:path";
import { readFile } from "node:fs/promises";
import { pathToFileURL } from "node:url";

function fail(msg) {
  console.error(`gguf-tensor-types: ${msg}`);
  process.exit(1);
}

const args = process.argv.slice(2);
if (args.length === 0 || args.some((a) => !a.includes("="))) fail("usage: node ci/gguf-tensor-types.mjs KEY=FILE.gguf [KEY=FILE.gguf...]");
const home = process.env.TRANSFUSE_NODE_HOME;
if (!home) fail("TRANSFUSE_NODE_HOME (the folder holding node_modules/node-llama-cpp) is not set");
const req = createRequire(path.join(path.resolve(home), "package.json"));
const { readGgufFileInfo, GgmlType } = await import(pathToFileURL(req.resolve("node-llama-cpp")).href);
const version = JSON.parse(await readFile(path.join(path.resolve(home), "node_modules", "node-llama-cpp", "package.json"), "utf8")).version;

const files = {};
for (const arg of args) {
  const key = arg.slice(0, arg.indexOf("=")), file = path.resolve(arg.slice(arg.indexOf("=") + 1));
  const info = await readGgufFileInfo(file, { readTensorInfo: true, logWarnings: false });
  if (!info.fullTensorInfo) fail(`${file}: no tensor table`);
  const types = {};
  for (const t of info.fullTensorInfo) {
    const name = GgmlType[t.ggmlType];
    if (name === undefined) fail(`${file}: tensor ${t.name} has a ggml type id ${t.ggmlType} this node-llama-cpp does not name`);
    types[t.name] = name.toUpperCase();
  }
  files[key] = types;
}
console.log(JSON.stringify({ llama_cpp: `node-llama-cpp ${version}`, files }, null, 1));

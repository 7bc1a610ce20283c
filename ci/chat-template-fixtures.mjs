// ci/chat-template-fixtures.mjs: the reference renderings for ChatTemplateReferenceTest.
// Renders every chat template in java/core/src/test/resources/chat/templates/*.json over every
// conversation in chat/conversations.json with @huggingface/jinja (the Jinja engine of
// transformers.js, an implementation independent of Jinjava), with Hugging Face's conventions:
// messages, add_generation_prompt, bos_token, eos_token (raise_exception is built into the engine); no tools. Writes
// chat/renderings.json: {template: {conversation: {"text": ...} or {"error": message}}}.
// Usage (run once by hand; the tests only read the result):
//   NODE_PATH=/path/to/node_modules node ci/chat-template-fixtures.mjs
// where node_modules holds @huggingface/jinja (0.5.13 made the stored file; it comes with
// node-llama-cpp under build/bench/node, or `npm install @huggingface/jinja@0.5.13`).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dir = path.join(root, "java/core/src/test/resources/chat");
const require = createRequire(path.join(process.env.NODE_PATH ?? process.cwd(), "x.js"));
const jinjaPath = require.resolve("@huggingface/jinja");
const { Template } = await import(jinjaPath);
const version = JSON.parse(fs.readFileSync(path.join(path.dirname(jinjaPath), "..", "package.json"), "utf8")).version;

const conversations = JSON.parse(fs.readFileSync(path.join(dir, "conversations.json"), "utf8"));
const out = { engine: `@huggingface/jinja ${version}`, renderings: {} };
for (const file of fs.readdirSync(path.join(dir, "templates")).sort()) {
  const t = JSON.parse(fs.readFileSync(path.join(dir, "templates", file), "utf8"));
  const name = file.replace(/\.json$/, "");
  const template = new Template(t.chat_template);
  out.renderings[name] = {};
  for (const c of conversations) {
    try {
      const text = template.render({
        messages: c.messages,
        add_generation_prompt: c.add_generation_prompt,
        bos_token: t.bos_token,
        eos_token: t.eos_token,
      });
      out.renderings[name][c.name] = { text };
    } catch (e) {
      out.renderings[name][c.name] = { error: String(e.message ?? e) };
    }
  }
}
fs.writeFileSync(path.join(dir, "renderings.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${path.join(dir, "renderings.json")} (${Object.keys(out.renderings).length} templates x ${conversations.length} conversations)`);

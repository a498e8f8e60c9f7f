// Tokenizes every example spec (specs/*.tib) with vscode-textmate and
// vscode-oniguruma, the engine VS Code uses, and checks the scopes it gives:
// comments, strings and placeholders character by character against a plain
// reading of the text, section keywords at line starts, and operators.
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import textmate from "vscode-textmate";
import oniguruma from "vscode-oniguruma";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const require = createRequire(import.meta.url);
const wasm = readFileSync(join(dirname(require.resolve("vscode-oniguruma")), "onig.wasm"));
await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));

const registry = new textmate.Registry({
  onigLib: Promise.resolve({
    createOnigScanner: (patterns) => new oniguruma.OnigScanner(patterns),
    createOnigString: (text) => new oniguruma.OnigString(text),
  }),
  loadGrammar: async (scope) =>
    scope === "source.tib"
      ? textmate.parseRawGrammar(readFileSync(join(root, "editors/vscode/syntaxes/tib.tmLanguage.json"), "utf8"), "tib.tmLanguage.json")
      : null,
});
const grammar = await registry.loadGrammar("source.tib");

const SECTIONS = ["app", "base_url", "credentials", "auth", "request", "lookup", "listing", "paginate", "api_error", "users", "fields",
  "active", "status", "licenses", "custom_fields"];
const OPERATORS = /\b(is\s+not|is|any\s+of|not\s+contains|contains|has\s+value|some)\b|>=/g;

/** What each character of a line is, read plainly: "comment", "string", "placeholder" or "code". */
function classes(line) {
  const out = [];
  let inString = false;
  let escaped = false;
  let placeholder = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (!inString) {
      if (c === "#") {
        while (out.length < line.length) out.push("comment");
        break;
      }
      if (c === '"') inString = true;
      out.push(inString ? "string" : "code");
      continue;
    }
    if (escaped) {
      escaped = false;
    } else if (c === "\\") {
      escaped = true;
    } else if (c === '"') {
      inString = false;
    } else if (c === "{") {
      placeholder = /^\{[A-Za-z_][A-Za-z0-9_]*\}/.test(line.slice(i));
    }
    out.push(placeholder ? "placeholder" : "string");
    if (c === "}") placeholder = false;
  }
  return out;
}

let failures = [];
const seen = { comment: 0, string: 0, placeholder: 0, section: 0, operator: 0 };
const specs = readdirSync(join(root, "specs")).filter((f) => f.endsWith(".tib")).sort();
for (const file of specs) {
  const lines = readFileSync(join(root, "specs", file), "utf8").split("\n");
  let state = textmate.INITIAL;
  lines.forEach((line, n) => {
    const { tokens, ruleStack } = grammar.tokenizeLine(line, state);
    state = ruleStack;
    const scopeAt = [];
    for (const t of tokens) for (let i = t.startIndex; i < t.endIndex; i++) scopeAt[i] = t.scopes.join(" ");
    const where = (i, what) => `${file}:${n + 1}:${i + 1}: ${what} (scopes: ${scopeAt[i]})`;
    const expected = classes(line);
    expected.forEach((kind, i) => {
      const scope = scopeAt[i] ?? "";
      const want = { comment: "comment.line", string: "string.quoted.double", placeholder: "variable.other.placeholder" }[kind];
      if (want && !scope.includes(want)) failures.push(where(i, `expected ${kind}`));
      if (!want && /comment|string/.test(scope)) failures.push(where(i, "code read as a comment or string"));
      if (want) seen[kind]++;
    });
    const keyword = line.match(/^([a-z_]+)\b/)?.[1];
    if (SECTIONS.includes(keyword) && !/^[a-z_]+\s*=/.test(line)) {
      if (!scopeAt[0]?.includes("keyword.control.section")) failures.push(where(0, `section keyword ${keyword}`));
      seen.section++;
    }
    for (const m of line.matchAll(OPERATORS)) {
      if (expected[m.index] !== "code") continue;
      if (!scopeAt[m.index]?.includes("keyword.operator")) failures.push(where(m.index, `operator ${m[0]}`));
      seen.operator++;
    }
  });
}
// The examples hold each kind of token many times: a check that sees none checked nothing.
for (const [kind, count] of Object.entries(seen)) {
  if (count < 10) failures.push(`only ${count} ${kind} characters or tokens in the examples`);
}
if (failures.length > 0) {
  console.error(failures.slice(0, 40).join("\n"));
  process.exit(1);
}
console.log(`tokenized ${specs.length} specs: ${JSON.stringify(seen)}`);

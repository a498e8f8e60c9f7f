// axe-core over the console's pages: the accessibility rules of WCAG 2.1 A and AA, in Chromium.
// The pages forbid every script but their own (Content-Security-Policy `default-src 'none'`), so
// the audit runs in a browser context that sets the policy aside to inject axe; what it audits is
// the page as served.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const axe = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/** The violations on each of `paths` of `base`, for a browser session holding `cookies`: `path: rule (targets)`. */
export async function audit(browser, base, cookies, paths) {
  const context = await browser.newContext({ bypassCSP: true });
  await context.addCookies(cookies);
  const page = await context.newPage();
  const found = [];
  for (const path of paths) {
    await page.goto(`${base}${path}`);
    await page.addScriptTag({ content: axe });
    const { violations, passed } = await page.evaluate(async () => {
      const result = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
      const violations = result.violations.map((v) => `${v.id} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
      return { violations, passed: result.passes.length };
    });
    // A page on which no rule applied was not audited (a login page where a page was meant, say).
    if (passed < 5) found.push(`${path}: only ${passed} rules applied; is it the page meant?`);
    found.push(...violations.map((v) => `${path}: ${v}`));
  }
  await context.close();
  return found;
}

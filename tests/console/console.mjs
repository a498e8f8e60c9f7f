// The tib console in a real browser: Debian's Chromium, driven by playwright-core.
// Usage: node console.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR
// Exits non-zero, naming the step, when the console does not behave.
import { chromium } from "playwright-core";

const [base, token, screenshots] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  // Without these, Chromium reaches for Google's hosts at start; nothing here leaves 127.0.0.1.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const fail = async (step, page) => {
  console.error(`${step}\n--- page ---\n${page ? await page.content() : ""}`);
  await browser.close();
  process.exit(1);
};
try {
  const context = await browser.newContext();
  // Any request beyond this server fails the test: the page fetches nothing from elsewhere.
  const outside = [];
  context.on("request", (r) => { if (!r.url().startsWith(base)) outside.push(r.url()); });
  const page = await context.newPage();
  // A click that submits a form: done when the page it leads to has loaded.
  const submit = (selector) => Promise.all([page.waitForNavigation(), page.click(selector)]);

  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) await fail(`without a session, / should lead to /login, not ${page.url()}`, page);

  await page.fill("input[name=token]", "not-the-admin-token");
  await submit("button[type=submit]");
  if (!(await page.textContent("[role=alert]"))?.includes("not this server's admin token")) {
    await fail("a wrong token should be refused with its message", page);
  }

  await page.fill("input[name=token]", token);
  await submit("button[type=submit]");
  await page.waitForURL(`${base}/`);
  const text = await page.textContent("main");
  for (const expected of ["Connected accounts", "acme/Prod", "Available to connect", "api_token (secret)"]) {
    if (!text.includes(expected)) await fail(`the overview should show ${expected}`, page);
  }
  if ((await page.content()).includes(token)) await fail("the admin token must not be in the page", page);
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "tib_session");
  if (!session?.httpOnly || session.sameSite !== "Strict") await fail(`the session cookie: ${JSON.stringify(session)}`, page);
  await page.screenshot({ path: `${screenshots}/overview.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${screenshots}/overview-phone.png`, fullPage: true });

  // The account: its runs and users, a search, the actions.
  await page.setViewportSize({ width: 1280, height: 800 });
  await submit("text=acme/Prod");
  await page.waitForURL(/\/connections\/acme\/Prod/);
  if (!(await page.textContent("main")).includes("applied")) await fail("the account page should show the applied run", page);
  const licenses = await page.$$eval("h2:has-text('Licenses') + table tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (licenses.length === 0 || !licenses.some((row) => row.startsWith("Acme"))) await fail(`the licenses with counts: ${licenses}`, page);
  await page.fill("input[name=q]", "USER7@");
  await submit("button:has-text('Search')");
  const rows = await page.$$eval("h2:has-text('Users') ~ table tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (rows.length !== 1 || !rows[0].includes("user7@acme.example")) await fail(`the search should find user7 alone: ${rows}`, page);
  await page.screenshot({ path: `${screenshots}/account.png`, fullPage: true });
  await submit("button:has-text('Sync now')");
  if (!(await page.textContent("[role=status]"))?.includes("syncs at the next tick")) await fail("sync now should say so", page);
  await submit("button:has-text('Disable')");
  await submit("button:has-text('Sync now')");
  if (!(await page.textContent("[role=status]"))?.includes("is disabled")) await fail("a disabled account should refuse sync now", page);
  await submit("button:has-text('Enable')");
  if (!(await page.textContent("main")).includes("State: enabled")) await fail("enable should enable", page);
  // A form whose CSRF token is taken out is refused.
  await Promise.all([page.waitForNavigation(), page.evaluate(() => {
    const form = [...document.querySelectorAll("form")].find((f) => f.querySelector("input[value=enable]"));
    form.querySelector("input[name=csrf]").value = "forged";
    form.submit();
  })]);
  if (!(await page.textContent("main")).includes("CSRF token is missing or wrong")) await fail("a forged form should be refused", page);
  await page.goBack();
  await page.check("input[name=confirm]");
  await submit("button:has-text('Disconnect')");
  await page.waitForURL(/\/\?done=/);
  if ((await page.textContent("main")).includes("acme/Prod")) await fail("after disconnecting, acme/Prod should be gone", page);

  await submit("text=Log out");
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) await fail("after logging out, / should lead to /login again", page);
  if (outside.length > 0) await fail(`requests beyond the server: ${outside.join(", ")}`, page);
  console.log("the console behaved in Chromium");
} catch (error) {
  await fail(`the browser test stopped: ${error.stack}`);
}
await browser.close();

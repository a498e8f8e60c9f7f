// The Integration Builder in a real browser: Debian's Chromium, driven by playwright-core.
// Usage: node builder.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR TEST_SECRET CONNECT_SECRET [OAUTH_SERVER_URL]
// It serves its own users API on 127.0.0.1 (bearer auth, offset pages, the users at
// `result.people`), builds an integration for it from a blank start through the six steps,
// saves, connects and syncs it, and checks the users stored. Exits non-zero, naming the step,
// when the builder does not behave.
import http from "node:http";
import { launch } from "./browser.mjs";

const [base, token, screenshots, testSecret, connectSecret, oauthServer] = process.argv.slice(2);

// The API: seven people, three a page; one has no email (dropped), one a cost that is no number.
const people = [
  { id: "u1", contact: { email: "ada@peoplely.example" }, name: { first: "Ada", last: "Lovelace" }, state: "active", plan: "pro", cost: 101, profile: { dept: "Sales" }, joined: "2024-01-02T03:04:05Z" },
  { id: "u2", contact: {}, name: { first: "Alan", last: "Turing" }, state: "active", plan: "free", cost: 102, profile: { dept: "Legal" }, joined: "2024-02-02T03:04:05Z" },
  { id: "u3", contact: { email: "grace@peoplely.example" }, name: { first: "Grace", last: "Hopper" }, state: "suspended", plan: "pro", cost: "n/a", profile: { dept: "Ops" }, joined: "2024-03-02T03:04:05Z" },
  { id: "u4", contact: { email: "linus@peoplely.example" }, name: { first: "Linus", last: "Torvalds" }, state: "active", plan: "pro", cost: 104, profile: { dept: "Eng" }, joined: "2024-04-02T03:04:05Z" },
  { id: "u5", contact: { email: "margaret@peoplely.example" }, name: { first: "Margaret", last: "Hamilton" }, state: "active", plan: "free", cost: 105, profile: { dept: "Eng" }, joined: "2024-05-02T03:04:05Z" },
  { id: "u6", contact: { email: "dennis@peoplely.example" }, name: { first: "Dennis", last: "Ritchie" }, state: "active", plan: "pro", cost: 106, profile: { dept: "Eng" }, joined: "2024-06-02T03:04:05Z" },
  { id: "u7", contact: { email: "barbara@peoplely.example" }, name: { first: "Barbara", last: "Liskov" }, state: "suspended", plan: "free", cost: 107, profile: { dept: "HR" }, joined: "2024-07-02T03:04:05Z" },
];
const api = http.createServer((request, response) => {
  const url = new URL(request.url, "http://127.0.0.1");
  const bearer = request.headers.authorization ?? "";
  if (url.pathname !== "/api/people") {
    response.writeHead(404).end();
  } else if (bearer !== `Bearer ${testSecret}` && bearer !== `Bearer ${connectSecret}`) {
    response.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ error: "bad token" }));
  } else {
    const offset = Number(url.searchParams.get("offset") ?? 0);
    const limit = Number(url.searchParams.get("limit") ?? 100);
    const page = people.slice(offset, offset + limit);
    response.writeHead(200, { "content-type": "application/json", "x-request-id": "req-1" });
    response.end(JSON.stringify({ ok: true, result: { people: page, total: people.length } }));
  }
});
await new Promise((resolve) => api.listen(0, "127.0.0.1", resolve));
const apiBase = `http://127.0.0.1:${api.address().port}/api`;

const browser = await launch();
const fail = async (step, page) => {
  console.error(`${step}\n--- page ${page ? page.url() : ""} ---\n${page ? await page.content() : ""}`);
  await browser.close();
  api.close();
  process.exit(1);
};
const errors = [];
const open = async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  await page.goto(`${base}/login`);
  await page.fill("input[name=token]", token);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  return page;
};
try {
  const page = await open();
  // A click that submits a form: done when the page it leads to has loaded (an answer of 4xx
  // is a page too: the steps that expect one look at it).
  const submit = async (selector) => {
    const [response] = await Promise.all([page.waitForNavigation({ waitUntil: "commit" }), page.click(selector)]);
    await page.waitForLoadState();
    return response;
  };
  const text = async (selector) => (await page.textContent(selector)) ?? "";
  // No test credential is ever in a page.
  const clean = async (where) => {
    if ((await page.content()).includes(testSecret)) await fail(`${where}: the test credential is in the page`, page);
  };
  const shot = (name) => page.screenshot({ path: `${screenshots}/${name}.png`, fullPage: true });

  // The list, then a blank start.
  await page.goto(`${base}/builder`);
  if (!(await text("#builder-integrations")).includes("compiled into this build")) await fail("the builder lists the compiled integrations", page);
  await submit("#new-integration");

  // 1. General: an app of the catalog, and where its API is.
  if (!(await page.$$eval("#catalog-apps option", (o) => o.map((x) => x.value))).includes("Peoplely")) await fail("the catalog's apps are offered", page);
  await page.fill("#app", "Peoplely");
  await page.fill("#base_url", apiBase);
  await shot("builder-general");
  await submit("#general button[type=submit]:not([name])");

  // 2. Authentication: a bearer token, asked at connect.
  await page.selectOption("#kind", "bearer");
  await submit("button[name=choose]");
  if ((await page.inputValue("#token")) !== "{api_token}") await fail("bearer starts from a token credential", page);
  if ((await page.inputValue("[name='cred.0.name']")) !== "api_token") await fail("the token is a credential asked at connect", page);
  await shot("builder-auth");
  await submit("#auth button[type=submit]:not([name])");

  // 3. The users endpoint: offset pages of three.
  await page.fill("#path", "/people");
  await page.selectOption("#style", "offset");
  await submit("button[name=choose]");
  if ((await page.inputValue("[name='page.offset_param']")) !== '"offset"') await fail("offset paging starts from its settings", page);
  await page.fill("[name='page.page_size']", "3");
  await page.fill("[name='stop.0']", "short_page");
  // The suggestions the field offers open over the form below it: closed, as a person would.
  await page.locator("[name='stop.0']").blur();
  await shot("builder-endpoint");
  await submit("#endpoint button[type=submit]:not([name])");

  // 4. The test: a wrong token shows the API's refusal; the right one the answer, and where the users are.
  if (!page.url().endsWith("/test")) await fail("the endpoint leads to the test", page);
  await page.fill("[name='cred.api_token']", "wrong-token-123");
  await submit("#run-test");
  if (!(await text("#report")).includes("401")) await fail("a refused test shows the status", page);
  await page.fill("[name='cred.api_token']", testSecret);
  await submit("#run-test");
  await clean("the test's answer");
  if (!(await text("#status")).includes("HTTP 200")) await fail("the test shows the status", page);
  if (!(await text("#report")).toLowerCase().includes("authorization: [redacted]")) await fail("the request's credential is redacted", page);
  if (!(await text("#body")).includes("grace@peoplely.example")) await fail("the body is shown", page);
  if (!(await text("#found")).includes("no users path yet")) await fail("without a path, the test says so", page);
  await shot("builder-test");
  await submit("#suggestions button:has-text('result.people')");
  if (!(await text("#found")).includes("result.people")) await fail("the picked path finds the users", page);
  // The typed credential is kept for the next test, never put back.
  await submit("#run-test");
  if (!(await text("#status")).includes("HTTP 200")) await fail("an empty field keeps the typed credential", page);
  await submit("a:has-text('Continue to mapping')");

  // 5. Map fields from the sample, with the live preview.
  const paths = await page.$$eval("#paths option", (o) => o.map((x) => x.value));
  for (const path of ["id", "contact.email", "name.first", "profile.dept", "cost", "joined"]) {
    if (!paths.includes(path)) await fail(`the picker offers ${path}: ${paths}`, page);
  }
  const previewSays = async (what) => {
    try {
      await page.waitForFunction((w) => document.querySelector("#preview")?.textContent.includes(w), what, { timeout: 10000 });
    } catch {
      await fail(`the preview should say ${what}`, page);
    }
  };
  // Picked: the field chosen, then Use on the sample's path.
  await page.click("[name='field.id']");
  await page.click("button[data-path='id']");
  await page.click("[name='field.email']");
  await page.click("button[data-path='contact.email']");
  if ((await page.inputValue("[name='field.email']")) !== "contact.email") await fail("a path picked from the sample", page);
  await previewSays("2 users map, 1 dropped");
  await previewSays("Dropped u2: no email");
  await page.fill("[name='field.first_name']", "name.first");
  await page.fill("[name='field.last_name']", "name.last");
  await page.fill("[name='field.created_at']", "joined");
  await page.fill(await page.getAttribute("label:has-text('Cost center')", "for").then((id) => `#${id}`), "cost");
  await page.fill(await page.getAttribute("label:has-text('Department')", "for").then((id) => `#${id}`), "profile.dept");
  await previewSays("u3: Cost center left out");
  await page.fill("[name='active.0.path']", "state");
  await page.fill("[name='active.0.value']", "active");
  await previewSays("1 active");
  await page.check("input[name=licenses][value=conditions]");
  await page.fill("[name='license.0.label']", "Peoplely Pro");
  await page.fill("[name='license.0.rule.0.path']", "plan");
  await page.fill("[name='license.0.rule.0.value']", "pro");
  await previewSays("License Peoplely Pro: 2");
  await page.click("details.license summary");
  const holders = await text("details.license[open] p");
  if (holders !== "u1, u3") await fail(`the license's rule matches u1 and u3, not ${holders}`, page);
  await clean("the preview");
  await shot("builder-map");
  await submit("#mapping button[type=submit]");

  // 6. Review: the text, its diagnostics as it is typed, the forms following it.
  if (!page.url().endsWith("/review")) await fail("the mapping leads to the review", page);
  if (!(await text("#diagnostics")).includes("checks clean")) await fail("the built spec checks clean", page);
  const spec = await page.inputValue("#spec");
  for (const part of ['app "Peoplely"', 'auth bearer "{api_token}"', "users at result.people", '"Peoplely Pro" when { plan is "pro" }']) {
    if (!spec.includes(part)) await fail(`the spec holds ${part}:\n${spec}`, page);
  }
  const lines = spec.split("\n");
  const stopLine = lines.findIndex((l) => l.includes("stop when short_page")) + 1;
  await page.fill("#spec", spec.replace("stop when short_page", "stop when short_pages"));
  await page.locator("#spec").press("End");
  try {
    await page.waitForSelector(`#diagnostics li[data-line="${stopLine}"]`, { timeout: 10000 });
  } catch {
    await fail(`a diagnostic at line ${stopLine}`, page);
  }
  await page.fill("#spec", spec.replace(/page_size(\s*)= 3/, "page_size$1= 2"));
  await submit("#text-form button[type=submit]");
  await page.goto(page.url().replace("/review", "/endpoint"));
  if ((await page.inputValue("[name='page.page_size']")) !== "2") await fail("the form follows the text", page);
  await page.goto(page.url().replace("/endpoint", "/review"));
  await shot("builder-review");
  await submit("#save");
  if (!(await text("[role=status]")).includes("peoplely is offered under Available to connect")) await fail("saved", page);

  // A second editor opens the saved spec; the first saves a change; the second's save is refused.
  const other = await open();
  await other.goto(`${base}/builder`);
  await Promise.all([other.waitForNavigation(), other.click("tr:has-text('peoplely') button")]);
  await other.goto(other.url().replace("/general", "/review"));
  await page.fill("#spec", `# Peoplely's users\n${await page.inputValue("#spec")}`);
  await submit("#text-form button[type=submit]");
  await submit("#save");
  if (!(await text("[role=status]")).includes("saved to")) await fail("the first editor saves", page);
  await Promise.all([other.waitForNavigation(), other.click("#save")]);
  if (!((await other.textContent("[role=alert]")) ?? "").includes("changed on disk")) await fail("a stale save is refused", other);
  await other.context().close();

  // Connect and sync the new integration.
  await page.goto(`${base}/`);
  if (!(await text("#integrations")).includes("peoplely interpreted")) await fail("the new integration is available to connect", page);
  await page.goto(`${base}/connect/peoplely`);
  await page.fill("#account", "Acme Corp");
  await page.fill("[name='credential.api_token']", connectSecret);
  await submit("form.dialog button[type=submit]");
  await submit("button:has-text('Sync now')");
  await page.waitForURL(/done=the%20sync%20ended/, { timeout: 30000 });
  const stored = await fetch(`${base}/api/v1/connections/peoplely/Acme%20Corp/users?limit=100`, {
    headers: { authorization: `Bearer ${token}` },
  }).then((r) => r.json());
  const ids = stored.users.map((u) => `${u.external_id}:${u.active ? "active" : "inactive"}:${u.licenses.join("+")}`).sort();
  const expected = ["u1:active:Peoplely Pro", "u3:inactive:Peoplely Pro", "u4:active:Peoplely Pro", "u5:active:", "u6:active:Peoplely Pro", "u7:inactive:"];
  if (JSON.stringify(ids) !== JSON.stringify(expected)) await fail(`the users synced: ${ids}`, page);
  await clean("the account page");

  // An OAuth authorization code test session against the OAuth test server.
  if (oauthServer) {
    await page.goto(`${base}/builder`);
    await submit("#new-integration");
    await page.fill("#app", "Oauthy");
    await page.fill("#base_url", apiBase);
    await submit("#general button[type=submit]:not([name])");
    await page.selectOption("#kind", "oauth_authorization_code");
    await submit("button[name=choose]");
    await page.fill("[name='set.authorize_url']", `"${oauthServer}/authorize"`);
    // Typed without its quotes, a URL is taken as text.
    await page.fill("[name='set.token_url']", `${oauthServer}/token`);
    await page.fill("[name='set.scopes']", '["openid", "users:read"]');
    if ((await text("#test-redirect")) !== `${base}/builder/callback`) await fail("the test redirect URL", page);
    await page.click("button[data-copy]");
    if ((await page.evaluate(() => navigator.clipboard.readText())) !== `${base}/oauth/callback/oauthy`) await fail("the copy button", page);
    await submit("#auth button[type=submit]:not([name])");
    await page.fill("#path", "/people");
    await page.selectOption("#style", "none");
    await page.fill("#users_at", "result.people");
    await submit("#endpoint button[type=submit]:not([name])");
    if (!(await page.$("[name='cred.client_id']"))) await fail("the test asks for the OAuth client's credentials", page);
    await page.fill("[name='cred.client_id']", "builder-client");
    await page.fill("[name='cred.client_secret']", testSecret);
    const authorize = async () => {
      await submit("#authorize");
      const [popup] = await Promise.all([page.waitForEvent("popup"), page.click("#open-provider")]);
      await popup.waitForLoadState();
      if (!((await popup.textContent("main")) ?? "").includes("Authorized")) await fail("the provider's redirect is taken", popup);
      await popup.close();
      await submit("#back-to-test");
    };
    await authorize();
    const countdown = async () => Number((await text("#countdown")).replace(/s.*/, ""));
    const first = await countdown();
    if (!(first >= 0)) await fail("a countdown of the token's life", page);
    await page.waitForFunction(() => /expired|^0s/.test(document.querySelector("#countdown")?.textContent ?? ""), null, { timeout: 15000 })
      .catch(() => fail("the countdown counts down to the expiry", page));
    await shot("builder-oauth");
    await authorize();
    if (!((await text("#token")).includes("expires in"))) await fail("re-authorized, a new token", page);
    await clean("the OAuth test");
    await submit("#clear");
    if (!(await text("#token")).includes("No token yet")) await fail("clear forgets the token", page);
  }

  if (errors.length > 0) await fail(`script errors: ${errors.join("; ")}`, page);
  console.log("the builder works");
} catch (error) {
  console.error(error);
  await browser.close();
  api.close();
  process.exit(1);
}
await browser.close();
api.close();

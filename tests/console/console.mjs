// The tib console in a real browser: Debian's Chromium, driven by playwright-core.
// Usage: node console.mjs BASE_URL ADMIN_TOKEN SCREENSHOT_DIR MOCK_API_URL API_SECRET [OAUTH_SERVER_URL]
// The mock Acme API is switched through its `/__control/...` paths. Exits
// non-zero, naming the step, when the console does not behave.
import { audit } from "./axe.mjs";
import { launch } from "./browser.mjs";

const [base, token, screenshots, mockApi, secret, oauthServer] = process.argv.slice(2);
const control = async (what) => {
  const response = await fetch(`${new URL(mockApi).origin}/__control/${what}`);
  if (!response.ok) throw new Error(`the mock API refused /__control/${what}`);
};
const browser = await launch();
const fail = async (step, page) => {
  console.error(`${step}\n--- page ---\n${page ? await page.content() : ""}`);
  await browser.close();
  process.exit(1);
};
try {
  const context = await browser.newContext();
  // Any request beyond this server fails the test: the page fetches nothing from elsewhere
  // (the OAuth provider, reached by the Connect button, excepted).
  const outside = [];
  context.on("request", (r) => {
    if (!r.url().startsWith(base) && !(oauthServer && r.url().startsWith(oauthServer))) outside.push(r.url());
  });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  // Script errors and refusals by the Content-Security-Policy; answers of 4xx are what some steps expect.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  // A click that submits a form or follows a link: done when the page it leads to has loaded.
  const submit = (selector) => Promise.all([page.waitForNavigation(), page.click(selector)]);
  const text = async (selector) => (await page.textContent(selector)) ?? "";
  const noSecret = async (where) => {
    const html = await page.content();
    if (html.includes(secret) || html.includes(token)) await fail(`${where}: a secret is in the page`, page);
  };
  // Sync now, then (for a sync the API holds after its first page) see it run live: its first
  // page's users are shown while the API still holds the rest, which it then lets go. The page loads
  // again with how it ended.
  const syncAndWatch = async (held) => {
    await submit("button:has-text('Sync now')");
    if (held) {
      if (!(await text("[role=status]")).includes("is due now")) await fail("sync now should say so", page);
      if (!(await page.$("#actions button[disabled]:has-text('Sync')"))) await fail("sync now cannot be pressed twice", page);
      await page.waitForFunction((users) => document.querySelector("#live")?.textContent.includes(`Syncing now: 1 page, ${users} users so far`), valid(100), { timeout: 20000 });
      await page.screenshot({ path: `${screenshots}/live.png`, fullPage: true });
      await control("fine");
    }
    await page.waitForURL(/done=the%20sync%20ended/, { timeout: 30000 });
    return text("[role=status]");
  };
  // The demo members with a valid email among the first n (every 97th, from 13, has none).
  const valid = (n) => [...Array(n).keys()].filter((i) => i % 97 !== 13).length;

  // Logging in: without a session to /login, a wrong token refused, the right one let in.
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) await fail(`without a session, / should lead to /login, not ${page.url()}`, page);
  await page.fill("input[name=token]", "not-the-admin-token");
  await submit("button[type=submit]");
  if (!(await text("[role=alert]")).includes("not this server's admin token")) {
    await fail("a wrong token should be refused with its message", page);
  }
  await page.fill("input[name=token]", token);
  await submit("button[type=submit]");
  await page.waitForURL(`${base}/`);
  const overview = await text("main");
  for (const expected of ["Connected accounts", "acme/Prod", "Available to connect", "api_token (secret)", "OAuth 2.0 authorization code"]) {
    if (!overview.includes(expected)) await fail(`the overview should show ${expected}`, page);
  }
  await noSecret("the overview");
  if (!/^\d+ accounts: \d+ failing, \d+ held, \d+ waiting for authorization, \d+ disabled\./.test(await text("#totals"))) {
    await fail(`the overview's totals: ${await text("#totals")}`, page);
  }
  await page.fill("#accounts-search input[name=q]", "prod");
  await page.selectOption("#accounts-search select[name=integration]", "acme");
  await submit("#accounts-search button");
  const listed = await page.$$eval("#accounts tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  if (listed.join() !== "acme/Prod") await fail(`the search and filters select acme/Prod: ${listed}`, page);
  await page.goto(`${base}/`);
  const session = (await context.cookies()).find((c) => c.name === "tib_session");
  if (!session?.httpOnly || session.sameSite !== "Lax") await fail(`the session cookie: ${JSON.stringify(session)}`, page);
  await page.screenshot({ path: `${screenshots}/overview.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${screenshots}/overview-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });

  // The connect dialog: the account name first, the spec's credentials, the secret as a password input.
  await submit("#integrations tr:has-text('(acme)') a:has-text('Connect')");
  const inputs = await page.$$eval("form.dialog input:not([type=hidden])", (all) => all.map((i) => `${i.name}:${i.type}`));
  if (inputs[0] !== "account:text") await fail(`the account name should come first: ${inputs}`, page);
  if (!inputs.includes("credential.tenant:text") || !inputs.includes("credential.api_token:password")) {
    await fail(`the dialog should ask for the spec's credentials, the secret hidden: ${inputs}`, page);
  }
  if (!(await text("form.dialog")).includes("An admin API token")) await fail("the credentials' descriptions", page);
  const fillDialog = async (account) => {
    await page.fill("#account", account);
    await page.fill("[name='credential.tenant']", "demo");
    await page.fill("[name='credential.api_token']", secret);
    await page.click("summary");
    await page.fill("#base_url", mockApi);
  };
  // Credentials the API refuses: its message and the hint, and nothing saved.
  await fillDialog("Wrong");
  await page.fill("[name='credential.api_token']", "not-the-token");
  await submit("button:has-text('Connect')");
  const refusedConnect = await text("[role=alert]");
  if (!refusedConnect.includes("refused") || !refusedConnect.includes("check the credentials")) {
    await fail(`a refusal says the API's message and the hint: ${refusedConnect}`, page);
  }
  await page.goto(`${base}/`);
  if ((await text("#accounts")).includes("acme/Wrong")) await fail("refused credentials save nothing", page);
  await page.goto(`${base}/connect/acme`);
  await fillDialog("Staging");
  await page.selectOption("#every", "43200");
  await page.screenshot({ path: `${screenshots}/connect.png`, fullPage: true });
  await submit("button:has-text('Connect')");
  // Connected: the first sync starts at once, and its page follows it to its end.
  await page.waitForURL(/\/connections\/acme\/Staging\?.*done=the%20sync%20ended/, { timeout: 30000 });
  if (!(await text("[role=status]")).includes("synced")) await fail(`the first sync at once: ${await text("[role=status]")}`, page);
  await noSecret("the account page after connecting");

  // The same name again: a warning that needs confirming; the secret is not put back.
  await page.goto(`${base}/connect/acme`);
  if (!(await text("main")).includes("Already connected: Prod, Staging")) await fail("the dialog lists the connected names", page);
  await fillDialog("Staging");
  await submit("button:has-text('Connect')");
  if (!(await text("[role=alert]")).includes("acme/Staging is already connected")) await fail("overwriting needs a warning", page);
  if ((await page.inputValue("[name='credential.api_token']")) !== "") await fail("the secret must not be put back", page);
  if ((await page.inputValue("#account")) !== "Staging") await fail("the account name is kept", page);
  await noSecret("the dialog shown again");
  await page.fill("[name='credential.api_token']", secret);
  await page.check("input[name=overwrite]");
  await page.selectOption("#every", "43200");
  await submit("button:has-text('Connect')");
  await page.waitForURL(/\/connections\/acme\/Staging\?.*done=the%20sync%20ended/, { timeout: 30000 });
  // Connect again (to rotate a token): the account's name and non-secret values filled in, the secret not.
  await submit("a:has-text('Connect again')");
  const again = [await page.inputValue("#account"), await page.inputValue("[name='credential.tenant']"),
    await page.inputValue("[name='credential.api_token']"), await page.inputValue("#base_url")];
  if (again.join("|") !== `Staging|demo||${mockApi}`) await fail(`connect again starts from the account: ${again}`, page);
  if ((await page.inputValue("#every")) !== "43200") await fail("connect again keeps how often it syncs", page);
  await noSecret("the dialog to connect again");
  await page.goBack();

  // Sync now, watched live: 3,000 users, the API holding all but the first page until the live
  // view has shown it.
  await control("users/3000");
  await control("hold-after-first-page");
  const synced = await syncAndWatch(true);
  if (!synced.includes(`synced ${valid(3000)} users from 30 pages`)) await fail(`the first sync: ${synced}`, page);

  // Its users and licenses; a search; a sort; pages.
  const licenses = await page.$$eval("#licenses tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (!licenses.some((row) => row.startsWith("Acme Enterprise"))) await fail(`the licenses with counts: ${licenses}`, page);
  if (!(await text("#users")).includes("Engineering")) await fail("the users' custom fields", page);
  if (!(await text("main")).includes(`1–50 of ${valid(3000)} users`)) await fail("the users, a page of 50", page);
  await page.fill("input[name=q]", "USER7@");
  await submit("#users-search button");
  const found = await page.$$eval("#users tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (found.length !== 1 || !found[0].includes("user7@acme.example")) await fail(`the search should find user7 alone: ${found}`, page);
  await page.fill("input[name=q]", "");
  await page.selectOption("select[name=sort]", "last_seen");
  await page.selectOption("select[name=access]", "true");
  await submit("#users-search button");
  const newest = await page.$$eval("#users tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  if (newest[0] !== "user2997@acme.example") await fail(`sorted by last seen, the newest first: ${newest.slice(0, 3)}`, page);
  await page.screenshot({ path: `${screenshots}/account.png`, fullPage: true });
  await submit("text=Next users");
  if (!(await text("main")).includes("51–100 of")) await fail("the next page of users", page);

  // The company's views: one person across the accounts, the licenses and the holders not seen in a while.
  await submit("nav a:has-text('People')");
  await page.fill("#people-search input[name=q]", "USER7@");
  await submit("#people-search button");
  const people = await page.$$eval("#people tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (people.length !== 1 || !people[0].includes("user7@acme.example")) await fail(`people found by email: ${people}`, page);
  await submit("#people a:has-text('user7@acme.example')");
  if (!(await text("#person")).includes("Staging")) await fail("the person's page lists their accounts", page);
  await page.setViewportSize({ width: 390, height: 844 });
  const labelled = await page.$eval("#person tbody td", (td) => [td.dataset.label, getComputedStyle(td, "::before").content]);
  if (labelled[0] !== "App" || !/App|attr\(data-label\)/.test(labelled[1])) await fail(`on a phone a cell keeps its label: ${labelled}`, page);
  await page.screenshot({ path: `${screenshots}/person-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await submit("nav a:has-text('Licenses')");
  await page.fill("#window input[name=unseen]", "30");
  await submit("#window button");
  const pro = await page.$$eval("#licenses tbody tr", (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)).find((cells) => cells[1] === "Staging" && cells[2] === "Acme Pro"));
  // The demo's members were last seen in 2024: every holder is one not seen in 30 days.
  if (!pro || pro[3] !== pro[4] || Number(pro[3]) < 100) await fail(`Acme Pro in Staging, its holders all unseen: ${pro}`, page);
  await page.screenshot({ path: `${screenshots}/licenses.png`, fullPage: true });
  await submit("#licenses tr:has-text('Staging'):has-text('Acme Pro') td:last-child a");
  if (!(await text("main")).includes(`${pro[4]} holders with access the app has not seen in 30 days`)) await fail("the unseen holders' page", page);
  if ((await page.$$("#holders tbody tr")).length !== 100) await fail("the holders, a page of 100", page);
  await submit("text=Next holders");
  await submit("#holders a:has-text('@acme.example')");
  if (!(await text("#person")).includes("Acme Pro")) await fail("a holder leads to the person", page);
  // Who left but still has access: Prod made the directory, Staging's members beyond Prod's 20 are in no directory.
  await page.goto(`${base}/access-review`);
  if (!(await text("main")).includes("No account is the company's directory yet")) await fail("the review without a directory says what to do", page);
  await page.goto(`${base}/connections/acme/Prod`);
  await submit("button:has-text(\"Use as the company's directory\")");
  if (!(await text("#directory")).includes("The company's directory")) await fail("the account page says it is the directory", page);
  await submit("#directory a");
  const departed = await page.$$eval("#departed tbody tr", (trs) => trs.map((tr) => tr.textContent));
  if (departed.length < 100 || !departed.every((row) => row.includes("Staging") && row.includes("not in the directory"))) {
    await fail(`the access review lists Staging's members beyond the directory's: ${departed.slice(0, 3)}`, page);
  }
  await page.screenshot({ path: `${screenshots}/access-review.png`, fullPage: true });
  await page.goto(`${base}/connections/acme/Prod`);
  await submit("button:has-text('No longer the directory')");
  await page.goto(`${base}/connections/acme/Staging`);

  // Most users gone at once: the sync is held until approved.
  await control("users/100");
  const held = await syncAndWatch(false);
  if (!held.includes("held: it would mark")) await fail(`a sync deleting most users should be held: ${held}`, page);
  if (!/held: its last sync listed \d+ users and would mark \d+ stored users deleted/.test(await text("#state"))) {
    await fail(`the state should say held, and what it would delete: ${await text("#state")}`, page);
  }
  if (!(await page.$("button:has-text('Discard the held sync')"))) await fail("a held sync can be discarded", page);
  // Who it would delete, a page at a time: 3,000 stored, 100 listed, the rest would go.
  const wouldDelete = await text("#held-count");
  const [, total, present] = wouldDelete.match(/^(\d+) of the (\d+) users stored now would be marked deleted/) ?? [];
  if (!total || Number(total) !== Number(present) - valid(100)) await fail(`how many of how many: ${wouldDelete}`, page);
  const heldFirst = await page.$$eval("#held-deletions tbody tr td:first-child", (tds) => tds.map((td) => td.textContent));
  if (heldFirst.length !== 50 || heldFirst.some((email) => !email.endsWith("@acme.example"))) await fail(`a page of who: ${heldFirst.slice(0, 3)}`, page);
  await submit("#held-count + table + p a:has-text('Next')");
  if (!(await text("#held-count")).includes("51–100 shown")) await fail(`the next page of who: ${await text("#held-count")}`, page);
  await submit("button:has-text('Approve the held sync')");
  if (!(await text("[role=status]")).includes("applied the held sync")) await fail("approving should apply it", page);

  // A 401 disables the connection with the API's message and the hint.
  await control("unauthorized");
  const disabled = await syncAndWatch(false);
  if (!disabled.includes("disabled")) await fail(`a 401 should disable: ${disabled}`, page);
  const state = await text("#state");
  if (!state.includes("disabled") || !state.includes("invalid API token") || !state.includes("check the credentials")) {
    await fail(`the state should carry the API's message and the hint: ${state}`, page);
  }
  // In words, on one line: the request's URL and the API's raw answer are one click away, not in it.
  if (state.includes("answered HTTP") || !state.startsWith("disabled: HTTP 401: ")) await fail(`the state in words: ${state}`, page);
  await page.click("details.error-detail summary");
  if (!(await text("details.error-detail pre")).includes("answered HTTP 401")) await fail("the whole answer a click away", page);
  await control("fine");
  // What admins were told since this operator last looked is counted in the navigation, until read.
  if (!/^\d+$/.test(await text("nav .badge"))) await fail("the navigation counts the unread notifications", page);
  await submit("text=Notifications");
  if (await page.$("nav .badge")) await fail("once shown, the notifications are read", page);
  if (!(await text("#notifications tr:has-text('acme/Staging is disabled')")).includes("new")) await fail("the unread ones are marked new", page);
  if (!(await text("#notifications")).includes("acme/Staging is disabled")) await fail("admins were told of the 401", page);
  if ((await text("#notifications")).includes("tib ")) await fail("a notification names no command", page);
  await page.screenshot({ path: `${screenshots}/notifications.png`, fullPage: true });
  // Its action is a button there: enabled from the notification, back on the account's page.
  await submit("#notifications tr:has-text('acme/Staging is disabled') button:has-text('Enable')");
  if (!(await text("#state")).includes("enabled")) await fail("enable should enable", page);

  // A form without its CSRF token, or with a forged one, is refused.
  for (const tamper of ["remove", "forge"]) {
    await Promise.all([page.waitForNavigation(), page.evaluate((tamper) => {
      const form = [...document.querySelectorAll("form")].find((f) => f.querySelector("input[value=disable]"));
      const csrf = form.querySelector("input[name=csrf]");
      if (tamper === "remove") csrf.remove(); else csrf.value = "forged";
      form.submit();
    }, tamper)]);
    if (!(await text("main")).includes("CSRF token is missing or wrong")) await fail(`a form to ${tamper} the token should be refused`, page);
    await page.goBack();
    await page.reload();
    if (!(await text("#state")).includes("enabled")) await fail("a refused form must change nothing", page);
  }
  await page.check("input[name=confirm]");
  await submit("button:has-text('Disconnect')");
  await page.waitForURL(/\/\?done=/);
  if ((await text("#accounts")).includes("acme/Staging")) await fail("after disconnecting, acme/Staging should be gone", page);

  // An OAuth authorization code integration: the redirect URLs, then Connect to the provider and back.
  await page.goto(`${base}/connect/hubspot`);
  if ((await text("#production-redirect")) !== `${base}/oauth/callback/hubspot`) await fail("the production redirect URL", page);
  if ((await text("#test-redirect")) !== "http://127.0.0.1:8765/callback") await fail("the test redirect URL", page);
  if (oauthServer) {
    await page.fill("#account", "Sales");
    for (const input of await page.$$("form.dialog input[name^='credential.']")) await input.fill("tib-browser-test");
    await page.click("summary");
    // Nothing listens on port 9: the first sync fails and is retried, which leaves the account enabled.
    await page.fill("#base_url", "http://127.0.0.1:9");
    await page.fill("#token_url", `${oauthServer}/token`);
    await page.fill("#authorize_url", `${oauthServer}/authorize`);
    await submit("button:has-text('Save and authorize')");
    await submit("#authorize");
    if (!(await text("body")).includes("hubspot/Sales is connected")) await fail("the provider should come back connected", page);
    await submit("text=Open it in the console");
    if ((await text("#state")).includes("waiting")) await fail("authorized, the account no longer waits", page);
  }

  // A token for a machine that reads: shown once; it reads the API, and is refused a change.
  await page.goto(`${base}/operators`);
  await page.fill("#token-name", "scim-reader");
  await submit("button:has-text('Make a token')");
  const made = await text("#made-token");
  if (!made.startsWith("tib_")) await fail(`the token is shown once it is made: ${made}`, page);
  const asReader = (path, method = "GET") => fetch(`${base}/api/v1${path}`, { method, headers: { authorization: `Bearer ${made}` } });
  if ((await asReader("/connections")).status !== 200) await fail("a viewer's token reads the API", page);
  const refused = await asReader("/connections/acme/Prod/sync", "POST");
  if (refused.status !== 403 || !(await refused.text()).includes("scim-reader is a viewer")) await fail("a viewer's token is refused a change", page);
  // The audit log holds each change of this test, by whom and from where, the refused one too.
  await page.goto(`${base}/operators`);
  // Each entry as `who|from|action|target|outcome`.
  const log = await page.$$eval("#audit tbody tr", (rows) => rows.map((r) => [...r.cells].slice(1).map((c) => c.textContent).join("|")));
  for (const [who, action, target] of [["admin", "log in", ""], ["admin", "connect", "acme/Wrong"], ["admin", "connect", "acme/Staging"],
    ["admin", "connect again", "acme/Staging"], ["admin", "sync now", "acme/Staging"], ["admin", "mark as directory", "acme/Prod"],
    ["admin", "unmark as directory", "acme/Prod"], ["admin", "approve the held sync", "acme/Staging"], ["admin", "enable", "acme/Staging"],
    ["admin", "disconnect", "acme/Staging"], ["admin", "add viewer token", "scim-reader"], ["scim-reader", "sync now", "acme/Prod"]]) {
    if (!log.some((row) => row.startsWith(`${who} (`) && row.includes(`|127.0.0.1|${action}|${target}|`))) {
      await fail(`the audit log should hold ${who}'s ${action} ${target}: ${log.join(" | ")}`, page);
    }
  }
  if (!log[0].includes("scim-reader is a viewer")) await fail(`the refusal is logged with why: ${log[0]}`, page);
  await page.screenshot({ path: `${screenshots}/operators.png`, fullPage: true });

  // No page breaks an accessibility rule of WCAG 2.1 A or AA, as axe-core checks them.
  const pages = ["/", "/people", "/people/user7%40acme.example", "/licenses", "/licenses/acme/Prod?license=Acme%20Pro",
    "/access-review", "/notifications", "/connections/acme/Prod", "/connect/acme", "/builder", "/operators"];
  const violations = await audit(browser, base, await context.cookies(), pages);
  if (violations.length > 0) await fail(`axe-core: ${violations.join("; ")}`, page);

  await submit("text=Log out");
  await page.waitForURL(`${base}/login`);
  await page.goto(`${base}/`);
  if (!page.url().endsWith("/login")) await fail("after logging out, / should lead to /login again", page);

  // Single sign-on at the OAuth test server (authorization code with PKCE and a nonce): its user is
  // a viewer, who reads every page and is refused every change, the refusal logged.
  if (oauthServer) {
    await submit("a:has-text('Log in with single sign-on')");
    await page.waitForURL(`${base}/`);
    if ((await text("nav .who")) !== "johndoe (viewer)") await fail(`logged in by the provider: ${await text("nav .who")}`, page);
    // No page offers a viewer what it would refuse: no actions, no Connect, no tokens, no Save.
    for (const [path, offered] of [["/connections/acme/Prod", "#actions button, #actions a"], ["/", "#integrations a"],
      ["/connect/acme", "form.dialog"], ["/operators", "#tokens button, form.dialog"], ["/notifications", "td[data-label=Action] button"]]) {
      await page.goto(`${base}${path}`);
      const shown = await page.$$eval(offered, (found) => found.map((e) => e.textContent));
      if (shown.length > 0) await fail(`a viewer is offered ${shown.join(", ")} on ${path}`, page);
    }
    await page.goto(`${base}/connections/acme/Prod`);
    if (!(await text("main")).includes("You are a viewer: an admin can sync")) await fail("the account page says why it offers no actions", page);
    // A change sent anyway (a page opened before the role changed, a form made by hand) is refused.
    await Promise.all([page.waitForNavigation(), page.evaluate(() => {
      const form = document.createElement("form");
      form.method = "post";
      form.action = location.pathname;
      for (const [name, value] of [["csrf", document.querySelector("input[name=csrf]").value], ["action", "sync"]]) {
        const input = Object.assign(document.createElement("input"), { type: "hidden", name, value });
        form.append(input);
      }
      document.body.append(form);
      form.submit();
    })]);
    if (!(await text("main")).includes("johndoe is a viewer")) await fail("a viewer is refused a change", page);
    await page.goto(`${base}/operators`);
    const mine = await page.$$eval("#audit tbody tr", (rows) => rows.slice(0, 2).map((r) => [...r.cells].slice(1).map((c) => c.textContent).join("|")));
    if (!mine[0]?.startsWith("johndoe (single sign-on)|") || !mine[0].includes("|sync now|acme/Prod|") || !mine[1]?.includes("|log in|")) {
      await fail(`the viewer's login and refused change are logged: ${mine.join(" | ")}`, page);
    }
    await submit("text=Log out");
  }
  if (outside.length > 0) await fail(`requests beyond the server: ${outside.join(", ")}`, page);
  if (errors.length > 0) await fail(`the page logged errors: ${errors.join("; ")}`, page);
  console.log("the console behaved in Chromium");
} catch (error) {
  await fail(`the browser test stopped: ${error.stack}`);
}
await browser.close();

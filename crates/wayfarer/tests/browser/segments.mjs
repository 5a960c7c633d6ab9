// Drives the Segments page in headless Chromium with playwright-core.
// Run by crates/wayfarer/tests/dashboard.rs:
//   node segments.mjs <base-url> <admin-token> <read-token> <out-dir>
// Signs in with the admin token, types a condition and sees its live count,
// sees a misspelled event named with the closest, saves the segment, opens
// its members, downloads its audience; then, signed in with a read token,
// is refused when saving; saves a funnel's drop-off from the Funnels page
// with the count the funnel drew. Fails (exit 1) on any assertion or JavaScript error.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [base, admin, read, out] = process.argv.slice(2);
const executablePath = process.env.WAYFARER_CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(out, { recursive: true });
const fail = (m) => { throw new Error(m); };
const check = (cond, m) => { if (!cond) fail(m); };
const problems = [];

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const report = {};
try {
  for (const [who, token] of [["admin", admin], ["reader", read]]) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    page.on("pageerror", (e) => problems.push(`uncaught exception on ${page.url()}: ${e.message}`));
    await page.goto(base + "/");
    await page.getByLabel("Read token").fill(token);
    await Promise.all([page.waitForURL((u) => new URL(u).pathname === "/"), page.getByRole("button", { name: "Sign in" }).click()]);
    await page.goto(base + "/segments");
    await page.getByRole("heading", { level: 1, name: "Segments" }).waitFor();
    const name = who === "admin" ? "Browser buyers" : "Reader buyers";
    await page.getByLabel("Name").fill(name);
    const condition = page.getByLabel("Condition");
    // A misspelled event: the live count names the closest.
    await condition.fill("did 'Order Complete' >= 2");
    await page.locator("#seg-count").filter({ hasText: "did you mean 'Order Completed'" }).waitFor({ timeout: 15000 });
    await condition.fill("did 'Order Completed' >= 2");
    await page.locator("#seg-count").filter({ hasText: /of [\d,]+ customers/ }).waitFor({ timeout: 15000 });
    const live = (await page.textContent("#seg-count")).trim();
    const expected = Number(live.split(" ")[0].replace(/,/g, ""));
    check(expected > 0, `the live count says '${live}'`);
    if (who === "admin") {
      await page.screenshot({ path: path.join(out, "40-segment-live-count.png"), fullPage: true });
      await Promise.all([page.waitForURL(/\/segments\/Browser%20buyers$/), page.getByRole("button", { name: "Save segment" }).click()]);
      await page.getByRole("heading", { level: 1, name: "Segment Browser buyers" }).waitFor();
      const rows = await page.$$eval("#members tbody tr", (r) => r.length);
      check(rows === Math.min(expected, 200), `the members table has ${rows} rows, the live count said ${expected}`);
      const topItems = await page.$$eval("#top-items tbody tr", (r) => r.length);
      check(topItems > 0, "the segment page shows no top products");
      report.top_items = topItems;
      await page.screenshot({ path: path.join(out, "41-segment-members.png"), fullPage: true });
      const [d] = await Promise.all([page.waitForEvent("download"), page.getByRole("link", { name: "Audience for Google Customer Match" }).click()]);
      const file = path.join(out, "audience.csv");
      await d.saveAs(file);
      const lines = fs.readFileSync(file, "utf8").trim().split("\n");
      check(lines[0] === "Email,Phone", `the audience starts '${lines[0]}'`);
      check(lines.length > 1 && /^[0-9a-f]{64},/.test(lines[1]), `the audience's first row is '${lines[1]}'`);
      report.members = rows;
      // A member's page recommends products they have not had.
      const member = await page.$eval("#members tbody tr td a", (a) => a.getAttribute("href"));
      await page.goto(base + member);
      const recommended = await page.$$eval("#recommended li", (li) => li.length);
      check(recommended === 10, `a member's page recommends ${recommended} products`);
      await page.screenshot({ path: path.join(out, "43-customer-recommended.png"), fullPage: true });
      await page.goBack();
      report.audience_rows = lines.length - 1;
      await page.goto(base + "/segments");
      const listed = await page.$$eval("#segments tbody tr td:first-child a", (as) => as.map((a) => a.textContent.trim()));
      check(listed.includes("Browser buyers"), `the list shows ${listed.join(", ")}`);
      await page.screenshot({ path: path.join(out, "42-segments-list.png"), fullPage: true });
      // "Save as segment" from a funnel's drop-off: the form comes prefilled
      // and its live count equals the drop-off the funnel drew.
      await page.goto(base + "/funnels?step=Product%20Viewed&step=Order%20Completed");
      const save = page.locator("#save-as-segment li").first();
      await save.waitFor({ timeout: 30000 });
      const offered = Number((await save.textContent()).match(/([\d,]+) customers?/)[1].replace(/,/g, ""));
      await page.screenshot({ path: path.join(out, "44-funnel-save-as-segment.png"), fullPage: true });
      // What the drop-offs did instead: one click from the funnel.
      const explore = page.locator("#explore li a").first();
      check(/who stopped after Product Viewed did instead/.test(await explore.textContent()), "no drill-down into the drop-off");
      await Promise.all([page.waitForURL(/after-drop=1/), explore.click()]);
      const instead = page.locator("#t-what-they-did-instead-after-step-1");
      await instead.waitFor({ timeout: 30000 });
      const insteadRows = await instead.locator("tbody tr").allTextContents();
      check(insteadRows.length > 0, "the drop-offs' next events are not listed");
      check((await page.inputValue("#f-after-drop")) === "1", "the form does not show the drill-down it ran");
      report.instead = insteadRows.slice(0, 2).map((t) => t.replace(/\s+/g, " ").trim());
      await page.screenshot({ path: path.join(out, "45-funnel-what-they-did-instead.png"), fullPage: true });
      // Two personas' journeys compared on the graph: only significant edges coloured.
      await page.goto(base + "/paths?graph=true&compare=persona%3ADeal%20hunters&vs=persona%3ALoyal%20regulars&min-customers=20");
      const graph = page.locator("#h-graph-compare");
      await graph.waitFor({ timeout: 60000 });
      const svg = await page.locator("section.card", { has: graph }).locator("svg").innerHTML();
      const coloured = (svg.match(/stroke="#(0072B2|D55E00)"/g) || []).length;
      const grey = (svg.match(/stroke="#8a94a6"/g) || []).length;
      check(coloured > 0, "no significant edge is coloured");
      check(coloured + grey <= 20, `the graph draws ${coloured + grey} edges, more than the top 20`);
      report.graph_edges = { coloured, grey };
      await page.screenshot({ path: path.join(out, "46-paths-graph-compare.png"), fullPage: true });
      await page.goto(base + "/paths?step-matrix=true&anchor=Product%20Added&steps=-3..4");
      await page.locator("#h-step-matrix").waitFor({ timeout: 60000 });
      await page.screenshot({ path: path.join(out, "47-paths-step-matrix.png"), fullPage: true });
      await page.goto(base + "/funnels?step=Product%20Viewed&step=Order%20Completed");
      await save.waitFor({ timeout: 30000 });
      await Promise.all([page.waitForURL(/\/segments\?/), save.locator("a").click()]);
      check((await page.inputValue("#seg-condition")).includes("not did 'Product Viewed' -> 'Order Completed' within 1w"),
        `the prefilled condition is '${await page.inputValue("#seg-condition")}'`);
      await page.locator("#seg-count").filter({ hasText: /of [\d,]+ customers/ }).waitFor({ timeout: 15000 });
      const prefilled = Number((await page.textContent("#seg-count")).trim().split(" ")[0].replace(/,/g, ""));
      check(prefilled === offered, `the funnel offered ${offered} drop-offs, the live count says ${prefilled}`);
      report.funnel_dropped = offered;
    } else {
      // A read token may look but not save: the form comes back with the reason.
      await Promise.all([page.waitForURL(/error=/), page.getByRole("button", { name: "Save segment" }).click()]);
      const notice = await page.textContent("#new-segment .notice.error");
      check(notice.includes("admin token"), `a reader saving a segment sees '${notice}'`);
      check((await page.inputValue("#seg-condition")) === "did 'Order Completed' >= 2", "the form lost the condition");
      report.reader_refused = true;
    }
    await context.close();
  }
  check(problems.length === 0, problems.join("\n"));
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

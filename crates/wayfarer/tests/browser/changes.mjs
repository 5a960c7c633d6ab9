// The "What changed", Discovery and Loyalty pages in headless Chromium.
// Run by crates/wayfarer/tests/over_time.rs:
//   node changes.mjs <base-url> <read-token> <out-dir>
// Signs in, opens What changed from the navigation, compares before and
// after the demo company's annotated change and checks that the deal
// hunters' Decision conversion is coloured better and the shipping-costs
// pain point listed as resolved or improved; adds an annotation with the
// form and finds it listed; opens Discovery and Loyalty. Saves screenshots.
// Fails (exit 1) on any assertion or JavaScript error; prints a JSON report.
import { check, launch } from "./launch.mjs";
import fs from "node:fs";
import path from "node:path";

const [base, read, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const problems = [];
const report = {};
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(base + "/");
  await page.getByLabel("Read token").fill(read);
  await Promise.all([page.waitForURL((u) => new URL(u).pathname === "/"), page.getByRole("button", { name: "Sign in" }).click()]);
  await Promise.all([page.waitForURL(/\/changes$/), page.getByRole("link", { name: "What changed", exact: true }).click()]);
  await page.getByRole("heading", { level: 1, name: "What changed" }).waitFor();

  // Before and after the annotated change.
  await page.getByRole("link", { name: "before and after" }).first().click();
  await page.locator("#comparison").waitFor({ timeout: 120000 });
  const dealRow = page.locator("#comparison h3", { hasText: "Deal hunters" }).locator("xpath=following-sibling::table[1]").locator("tr", { hasText: "Decision" });
  const conversion = dealRow.locator("td").nth(1);
  const cls = await conversion.getAttribute("class");
  check(cls === "better", `the deal hunters' Decision conversion is '${cls}': ${await conversion.textContent()}`);
  report.deal_hunters_decision = (await conversion.textContent()).trim();
  const worse = await page.$$eval("table.changes td.worse", (t) => t.map((x) => x.textContent.trim()));
  check(worse.length === 0, `cells coloured worse: ${worse.join(" | ")}`);
  const pains = (await page.locator("#pain-changes").textContent()).replace(/\s+/g, " ");
  check(/(resolved|improved)\s*Deal hunters leave at Shipping costs page/.test(pains), `pain point changes: ${pains.slice(0, 400)}`);
  report.coloured = await page.$$eval("table.changes td.better", (t) => t.length);
  await page.screenshot({ path: path.join(out, "70-what-changed.png"), fullPage: true });

  // A new annotation, from the form.
  await page.getByLabel("Date").fill("2026-09-15");
  await page.getByLabel("What happened").fill("Browser test: pricing page redesigned");
  await Promise.all([page.waitForURL(/\/changes/), page.getByRole("button", { name: "Add annotation" }).click()]);
  const listed = (await page.locator("#annotations").textContent()).replace(/\s+/g, " ");
  check(listed.includes("2026-09-15 — Browser test: pricing page redesigned"), `annotations: ${listed.slice(0, 300)}`);

  // The annotations are markers on trend charts.
  await page.goto(base + "/funnels?step=Product+Viewed&step=Order+Completed&trend=week");
  const markers = await page.$$eval("svg g.marker title", (t) => t.map((x) => x.textContent));
  check(markers.some((m) => m.includes("Shipping costs shown up front")) && markers.some((m) => m.includes("Browser test")),
    `markers on the funnel's trend: ${markers.join(" | ")}`);
  report.markers = markers.length;
  await page.screenshot({ path: path.join(out, "74-funnel-trend-markers.png"), fullPage: true });

  // Opportunities: an effort and an owner score one; a KPI target is met or missed.
  await Promise.all([page.waitForURL(/\/opportunities$/), page.getByRole("link", { name: "Opportunities", exact: true }).click()]);
  await page.getByLabel("Effort of opportunity 1", { exact: true }).selectOption("1");
  await page.getByLabel("Owner of opportunity 1", { exact: true }).fill("checkout team");
  await Promise.all([page.waitForURL(/\/opportunities/), page.getByRole("button", { name: "Save the effort and owner of opportunity 1", exact: true }).click()]);
  const first = (await page.locator("#opportunities tbody tr").first().textContent()).replace(/\s+/g, " ");
  check(await page.getByLabel("Owner of opportunity 1", { exact: true }).inputValue() === "checkout team", `the first row after saving: ${first.slice(0, 200)}`);
  const dots = await page.$$eval("#matrix svg circle", (c) => c.length);
  check(dots === 1, `the value × effort matrix has ${dots} dots`);
  report.planned = first.slice(0, 120);
  await page.getByLabel("Stage", { exact: true }).selectOption("Decision");
  await page.getByLabel("Metric", { exact: true }).selectOption("conversion");
  await page.getByLabel("Value", { exact: true }).fill("65 %");
  await page.getByLabel("Owner", { exact: true }).fill("checkout team");
  await Promise.all([page.waitForURL(/\/opportunities/), page.getByRole("button", { name: "Add target" }).click()]);
  const target = (await page.locator("#targets tbody tr").first().textContent()).replace(/\s+/g, " ");
  check(/Decision conversion ≥ 65\.0 %/.test(target) && /(met|missed)/.test(target), `the target row: ${target}`);
  await page.screenshot({ path: path.join(out, "73-opportunities.png"), fullPage: true });
  await page.goto(base + "/");
  const strip = (await page.locator("div.targets").textContent()).replace(/\s+/g, " ");
  check(/Decision conversion ≥ 65\.0 % — (met|missed)/.test(strip), `the map's targets: ${strip}`);

  // Discovery and Loyalty.
  await Promise.all([page.waitForURL(/\/discovery/), page.getByRole("link", { name: "Discovery", exact: true }).click()]);
  await page.getByRole("heading", { level: 1, name: /Discovery/ }).waitFor();
  const sources = await page.$$eval("table tbody tr", (r) => r.length);
  check(sources >= 5, `discovery shows ${sources} rows`);
  report.discovery_rows = sources;
  await page.screenshot({ path: path.join(out, "71-discovery.png"), fullPage: true });
  await Promise.all([page.waitForURL(/\/loyalty/), page.getByRole("link", { name: "Loyalty", exact: true }).click()]);
  await page.getByRole("heading", { level: 1, name: /Loyalty/ }).waitFor();
  const text = await page.locator("main").textContent();
  check(text.includes("Repeat order"), "loyalty does not name the repeat order");
  await page.screenshot({ path: path.join(out, "72-loyalty.png"), fullPage: true });
  check(problems.length === 0, `JavaScript errors: ${problems.join("; ")}`);
  report.ok = true;
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(JSON.stringify({ ...report, error: String(e && e.message || e) }));
  process.exitCode = 1;
} finally {
  await browser.close();
}

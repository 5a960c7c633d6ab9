// Drives the dashboard in headless Chromium with playwright-core.
// Run by crates/wayfarer/tests/dashboard.rs:
//   node dashboard.mjs <phase> <base-url> <read-token> <out-dir>
// phase "first": sign in, open and screenshot every page, switch persona,
// build a funnel, add a note, export PNGs, check keyboard access and labels.
// phase "after-restart": sign in again and find the note.
// Fails (exit 1) on any assertion, JavaScript console error or failed request.
import { chromium } from "playwright-core";
import fs from "node:fs";
import path from "node:path";

const [phase, base, token, out] = process.argv.slice(2);
const executablePath = process.env.WAYFARER_CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(out, { recursive: true });

const NOTE = "Shipping cost shock at checkout: test showing it on the product page";
const problems = [];
const fail = (m) => { throw new Error(m); };
const check = (cond, m) => { if (!cond) fail(m); };

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
const page = await context.newPage();
// A query the test gets wrong on purpose answers 400, and Chromium logs it.
let expected400 = null;
const expected = (url) => expected400 !== null && expected400.test(url);
page.on("console", (m) => {
  if (m.type() === "error" && !(expected(page.url()) && m.text().includes("status of 400"))) problems.push(`console error on ${page.url()}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`uncaught exception on ${page.url()}: ${e.message}`));
page.on("requestfailed", (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
page.on("response", (r) => {
  // The login page answers 401 to a wrong token; every other response must succeed.
  if (r.status() >= 400 && !(r.status() === 400 && expected(r.url()))) problems.push(`HTTP ${r.status()} for ${r.url()}`);
});

async function signIn() {
  await page.goto(base + "/");
  check(new URL(page.url()).pathname === "/login", `expected the login page, got ${page.url()}`);
  await page.getByLabel("Read token").fill(token);
  await Promise.all([page.waitForURL((u) => new URL(u).pathname === "/"), page.getByRole("button", { name: "Sign in" }).click()]);
  await page.getByRole("heading", { level: 1, name: "Customer journey map" }).waitFor();
}

async function shot(name) {
  await page.screenshot({ path: path.join(out, `${name}.png`), fullPage: true });
}

async function download(link, file) {
  const [d] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const target = path.join(out, file);
  await d.saveAs(target);
  const bytes = fs.readFileSync(target);
  check(bytes.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), `${file} is not a PNG`);
  check(bytes.length > 5000, `${file} is suspiciously small (${bytes.length} bytes)`);
  return bytes.length;
}

const report = { phase, pages: [] };
try {
  await signIn();
  if (phase === "first") {
    // Keyboard: the first Tab reaches the skip link, the next ones the navigation.
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.textContent.trim()) === "Skip to content", "first Tab is not the skip link");
    await page.keyboard.press("Tab");
    check(await page.evaluate(() => document.activeElement.closest("nav") !== null), "second Tab is not in the navigation");

    // Every page opens, has its heading, labelled controls, fits 1280 px, and is saved.
    const nav = await page.$$eval("nav.side a", (as) => as.map((a) => [a.textContent.trim(), a.getAttribute("href")]));
    check(nav.length >= 10, `navigation has ${nav.length} links`);
    for (const [i, [label, href]] of nav.entries()) {
      const t0 = Date.now();
      await page.goto(base + href);
      const ms = Date.now() - t0;
      const current = await page.$eval('nav.side a[aria-current="page"]', (a) => a.textContent.trim());
      check(current === label, `${href}: navigation marks '${current}', expected '${label}'`);
      const unlabelled = await page.$$eval("input:not([type=hidden]), select, textarea", (els) =>
        els.filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label") && !e.getAttribute("aria-labelledby")).map((e) => e.name || e.id));
      check(unlabelled.length === 0, `${href}: controls without a label: ${unlabelled.join(", ")}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      check(width <= 1280, `${href}: the page is ${width} px wide at a 1280 px window`);
      report.pages.push({ href, ms });
      await shot(`${String(i + 1).padStart(2, "0")}-${label.toLowerCase().replace(/[^a-z]+/g, "-")}`);
    }

    // Journey map: switch persona.
    await page.goto(base + "/");
    const personas = await page.$$eval("#persona option", (os) => os.map((o) => o.value).filter((v) => v));
    check(personas.length >= 2, `expected personas to switch between, found ${personas.length}`);
    await page.selectOption("#persona", personas[0]);
    await Promise.all([page.waitForURL(/persona=/), page.getByRole("button", { name: "Apply" }).click()]);
    const sub = await page.textContent("header.topbar .sub");
    check(sub.includes(personas[0]), `after switching persona the subtitle says '${sub}'`);
    report.persona = personas[0];
    await shot("20-map-persona");
    // ... or a segment instead.
    await page.selectOption("#persona", "");
    await page.selectOption("#segment", "purchases:Repeat buyers");
    await Promise.all([page.waitForURL(/segment=/), page.getByRole("button", { name: "Apply" }).click()]);
    const segSub = await page.textContent("header.topbar .sub");
    check(segSub.includes("Purchases: Repeat buyers"), `after choosing a segment the subtitle says '${segSub}'`);
    await shot("20-map-segment");

    // Open a cell: its numbers, links to the analysis, and the note form.
    await page.goto(base + "/");
    const cell = page.locator("a.cell.live").filter({ hasText: "→" }).first();
    await Promise.all([page.waitForURL(/cell=/), cell.click()]);
    await page.locator("#detail").waitFor();
    const funnelLink = page.locator("#detail a", { hasText: "Open the funnel" }).first();
    check(await funnelLink.count() === 1, "the conversion cell does not link to its funnel");
    await page.getByLabel("Hypothesis or note").fill(NOTE);
    await page.getByLabel("Owner").fill("Ana");
    await page.getByLabel("Status", { exact: true }).selectOption("investigating");
    await Promise.all([page.waitForURL(/cell=/), page.getByRole("button", { name: "Add note" }).click()]);
    check((await page.textContent("#detail")).includes(NOTE), "the note is not shown after adding it");
    check(await page.locator("a.cell.live.open .note-badge").count() === 1, "the cell shows no note badge");
    report.note_cell = page.url();
    const u = new URL(page.url());
    fs.writeFileSync(path.join(out, "note-cell.txt"), u.pathname + u.search);
    await shot("21-map-cell-note");
    // The drop-off link opens the funnel it came from.
    await Promise.all([page.waitForURL(/\/funnels\?/), page.locator("#detail a", { hasText: "Open the funnel" }).first().click()]);
    await page.locator("svg[aria-label='Conversion by step']").waitFor();

    // Export the map as PNG (from our SVG, rendered by resvg).
    await page.goto(base + "/");
    report.map_png_bytes = await download(page.locator("header.topbar .exports a", { hasText: "PNG" }), "export-journey-map.png");

    // Build a funnel: suggestions, add a step, run.
    await page.goto(base + "/funnels");
    check(await page.locator("datalist#event-names option").count() > 5, "no event-name suggestions");
    await page.getByLabel("Step 1", { exact: true }).fill("Product Viewed");
    await page.getByLabel("Step 2", { exact: true }).fill("Checkout Started");
    await page.getByRole("button", { name: "+ Add step" }).click();
    await page.getByLabel("Step 3", { exact: true }).fill("Order Completed");
    await page.getByLabel("Window", { exact: true }).fill("14d");
    await page.getByLabel("Trend", { exact: true }).selectOption("week");
    await Promise.all([page.waitForURL(/step=Order\+Completed/), page.getByRole("button", { name: "Run" }).click()]);
    const bars = page.locator("svg[aria-label='Conversion by step'] rect[fill='#0072B2']");
    check(await bars.count() === 3, `the funnel chart has ${await bars.count()} bars, expected 3`);
    await page.locator("svg[aria-label='Time to convert (step 1 to last step)']").waitFor();
    await page.locator("svg[aria-label='Conversion by period of step 1']").waitFor();
    await shot("22-funnel-built");
    report.funnel_png_bytes = await download(page.getByRole("link", { name: "Conversion by step as PNG" }), "export-funnel.png");

    // A misspelled step is named with the closest event, never charted as zeros.
    expected400 = /step=Product\+Viewd/;
    await page.getByLabel("Step 1", { exact: true }).fill("Product Viewd");
    await Promise.all([page.waitForURL(/step=Product\+Viewd/), page.getByRole("button", { name: "Run" }).click()]);
    const body = await page.textContent("main");
    check(body.includes("Product Viewd") && body.includes("did you mean 'Product Viewed'"), "the misspelled step is not named with a suggestion");
    check(await page.locator("svg[aria-label='Conversion by step']").count() === 0, "a misspelled step still draws a funnel chart");
    check(await page.getByLabel("Step 1", { exact: true }).inputValue() === "Product Viewd", "the form lost what was typed");
    await shot("23-funnel-misspelled-step");
  } else {
    const url = fs.readFileSync(path.join(out, "note-cell.txt"), "utf8").trim();
    await page.goto(base + url);
    check((await page.textContent("#detail")).includes(NOTE), "the note is gone after the restart");
    check((await page.textContent("#detail")).includes("investigating"), "the note lost its status after the restart");
    await shot("30-note-after-restart");
  }
  check(problems.length === 0, "problems:\n" + problems.join("\n"));
  console.log(JSON.stringify(report));
} catch (e) {
  await shot(`failure-${phase}`).catch(() => {});
  console.error(String(e.stack || e));
  if (problems.length) console.error("also:\n" + problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}

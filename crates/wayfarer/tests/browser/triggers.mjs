// Reads the Triggers page in headless Chromium. Run by crates/wayfarer/tests/triggers.rs:
//   node triggers.mjs <base-url> <read-token> <out-dir>
// Signs in, opens Triggers from the navigation, checks the trigger's row
// (its action, counts and measured effect) and the latest actions, and
// saves a screenshot. Fails (exit 1) on any assertion or JavaScript error;
// prints a JSON report.
import { check, launch } from "./launch.mjs";
import fs from "node:fs";
import path from "node:path";

const [base, read, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const problems = [];
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(base + "/");
  await page.getByLabel("Read token").fill(read);
  await Promise.all([page.waitForURL((u) => new URL(u).pathname === "/"), page.getByRole("button", { name: "Sign in" }).click()]);
  await Promise.all([page.waitForURL(/\/triggers$/), page.getByRole("link", { name: "Triggers" }).click()]);
  await page.getByRole("heading", { level: 1, name: "Triggers" }).waitFor();
  const row = page.locator("#triggers tbody tr").first();
  const text = (await row.textContent()).replace(/\s+/g, " ");
  check(text.includes("Cart reminder") && text.includes("Order Completed"), `the row says '${text}'`);
  check(/points \(95 % CI/.test(text), `no measured effect in '${text}'`);
  const actions = await page.$$eval("#actions tbody tr", (r) => r.length);
  check(actions > 0, "no latest actions");
  await page.screenshot({ path: path.join(out, "60-triggers.png"), fullPage: true });
  check(problems.length === 0, `JavaScript errors: ${problems.join("; ")}`);
  console.log(JSON.stringify({ row: text.slice(0, 200), actions }));
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

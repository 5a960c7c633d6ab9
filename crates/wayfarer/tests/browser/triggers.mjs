// Reads and manages the Triggers page in headless Chromium. Run by
// crates/wayfarer/tests/triggers.rs:
//   node triggers.mjs <base-url> <read-token> <admin-token> <customer> <out-dir>
// Signs in, opens Triggers from the navigation, checks the trigger's row
// (its action, counts and measured effect) and the latest actions; tests
// the trigger with a customer (the preview of what would be sent); finds
// that a read token cannot pause it; signs in with the admin token, pauses
// and resumes it; creates a trigger whose typo is refused with the closest
// event name, mends it and saves it. Saves screenshots. Fails (exit 1) on
// any assertion or JavaScript error; prints a JSON report.
import { check, launch } from "./launch.mjs";
import fs from "node:fs";
import path from "node:path";

const [base, read, admin, customer, out] = process.argv.slice(2);
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

  // Test with a customer: what would be sent, recording nothing.
  await row.getByPlaceholder("customer id").fill(customer);
  await Promise.all([page.waitForURL(/preview=/), row.getByRole("button", { name: /^Test / }).click()]);
  const preview = (await page.locator("#preview").textContent()).replace(/\s+/g, " ");
  check(preview.includes(`for customer ${customer}`) && /due — occurred/.test(preview), `the preview says '${preview.slice(0, 300)}'`);
  check(preview.includes("occurrence_id"), `the preview shows no payload: '${preview.slice(0, 300)}'`);
  await page.screenshot({ path: path.join(out, "61-trigger-preview.png"), fullPage: true });

  // A read token may look, not change.
  await Promise.all([page.waitForURL(/\/triggers/), page.getByRole("button", { name: "Pause Cart reminder" }).click()]);
  const refused = await page.getByRole("alert").first().textContent();
  check(/admin token/.test(refused), `pausing with a read token said '${refused}'`);

  // The admin token pauses and resumes.
  const admin_ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const a = await admin_ctx.newPage();
  a.on("pageerror", (e) => problems.push(e.message));
  await a.goto(base + "/login");
  await a.getByLabel("Read token").fill(admin);
  await Promise.all([a.waitForURL((u) => new URL(u).pathname === "/"), a.getByRole("button", { name: "Sign in" }).click()]);
  await a.goto(base + "/triggers");
  await Promise.all([a.waitForURL(/paused=/), a.getByRole("button", { name: "Pause Cart reminder" }).click()]);
  check((await a.getByRole("status").first().textContent()).includes("paused"), "no 'paused' notice");
  const paused = (await a.locator("#triggers tbody tr").first().textContent()).replace(/\s+/g, " ");
  check(paused.includes("(paused)"), `the row after pausing says '${paused.slice(0, 200)}'`);
  await Promise.all([a.waitForURL(/resumed=/), a.getByRole("button", { name: "Resume Cart reminder" }).click()]);
  const resumed = (await a.locator("#triggers tbody tr").first().textContent()).replace(/\s+/g, " ");
  check(!resumed.includes("(paused)"), `the row after resuming says '${resumed.slice(0, 200)}'`);

  // A new trigger: a typo is refused with the closest name, the text kept.
  await Promise.all([a.waitForURL(/new=1/), a.getByRole("link", { name: "New trigger" }).click()]);
  const editor = a.locator("#definition");
  const definition = [
    "[[trigger]]",
    'name = "Browse reminder"',
    'when = "event Cart Viwed"',
    'wait = "1d"',
    'unless = "Order Completed"',
    "holdout = 0.2",
    'goal = "Order Completed"',
    'goal_within = "3d"',
  ].join("\n");
  await editor.fill(definition);
  await Promise.all([a.waitForURL(/error=/), a.getByRole("button", { name: "Save trigger" }).click()]);
  const error = await a.locator("#editor [role=alert]").textContent();
  check(error.includes("did you mean 'Cart Viewed'") && error.includes("key 'when'"), `the refusal says '${error}'`);
  check((await editor.inputValue()).includes("Cart Viwed"), "the editor lost the text");
  await editor.fill(definition.replace("Cart Viwed", "Cart Viewed"));
  await Promise.all([a.waitForURL(/saved=/), a.getByRole("button", { name: "Save trigger" }).click()]);
  check((await a.getByRole("status").first().textContent()).includes("'Browse reminder' saved"), "no 'saved' notice");
  const names = await a.$$eval("#triggers tbody tr td:first-child strong", (s) => s.map((x) => x.textContent));
  check(names.includes("Browse reminder") && names.includes("Cart reminder"), `the triggers are ${names}`);
  await a.screenshot({ path: path.join(out, "62-trigger-saved.png"), fullPage: true });
  check(problems.length === 0, `JavaScript errors: ${problems.join("; ")}`);
  console.log(JSON.stringify({ row: text.slice(0, 200), actions, preview: preview.slice(0, 120), names }));
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

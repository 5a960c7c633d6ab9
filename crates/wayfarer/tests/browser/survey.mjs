// Answers a hosted survey in headless Chromium with the keyboard only, as a
// customer who does not use a mouse would. Run by crates/wayfarer/tests/triggers.rs:
//   node survey.mjs <survey-url> <out-dir>
// Checks that every input has a label, the scale is a group with a legend,
// the score is chosen with Tab, Space and the arrow keys, and the answer is
// thanked; a reload says it was answered. Fails (exit 1) on any assertion
// or JavaScript error; prints a JSON report.
import { check, launch } from "./launch.mjs";
import fs from "node:fs";
import path from "node:path";

const [url, out] = process.argv.slice(2);
fs.mkdirSync(out, { recursive: true });
const problems = [];
const browser = await launch();
const report = {};
try {
  const page = await (await browser.newContext({ viewport: { width: 420, height: 800 } })).newPage();
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
  await page.goto(url);
  await page.getByRole("heading", { name: "A quick question" }).waitFor();
  // Every input and textarea has a label; the scale is a named group.
  const unlabelled = await page.$$eval("input, textarea", (els) =>
    els.filter((e) => !(e.labels && e.labels.length)).map((e) => e.outerHTML));
  check(unlabelled.length === 0, `inputs without a label: ${unlabelled.join(" ")}`);
  const legend = await page.textContent("fieldset legend");
  check(legend.includes("How satisfied"), `the legend is '${legend}'`);
  const group = page.getByRole("radiogroup", { name: /How satisfied/ });
  check(await group.count() === 1, "no radio group named by the question");
  await page.screenshot({ path: path.join(out, "50-survey.png"), fullPage: true });
  // Keyboard only: Tab into the scale, Space picks 1, two ArrowRights make it 3.
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.name) === "score", "Tab does not reach the scale");
  await page.keyboard.press("Space");
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  const chosen = await page.$eval("input[name=score]:checked", (e) => e.value);
  check(chosen === "3", `the keyboard chose ${chosen}`);
  await page.keyboard.press("Tab");
  check(await page.evaluate(() => document.activeElement.id) === "comment", "Tab does not reach the comment");
  await page.keyboard.type("Delivery was slow but support was kind");
  await page.keyboard.press("Tab");
  await Promise.all([page.waitForLoadState("load"), page.keyboard.press("Enter")]);
  const thanks = await page.textContent("[role=status]");
  check(thanks.includes("recorded"), `after sending: '${thanks}'`);
  await page.screenshot({ path: path.join(out, "51-survey-thanks.png"), fullPage: true });
  await page.goto(url);
  const again = await page.textContent("[role=status]");
  check(again.includes("answered already"), `a second visit: '${again}'`);
  report.score = Number(chosen);
  check(problems.length === 0, `JavaScript errors: ${problems.join("; ")}`);
  console.log(JSON.stringify(report));
} catch (e) {
  console.log(`FAILED: ${e.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

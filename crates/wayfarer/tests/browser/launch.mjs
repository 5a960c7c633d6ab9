// What the browser tests share: headless Chromium started the one way they
// all need (no sandbox, nothing fetched in the background), and `check`.
import { chromium } from "playwright-core";

export const launch = () =>
  chromium.launch({
    executablePath: process.env.WAYFARER_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });

export const check = (cond, m) => { if (!cond) throw new Error(m); };

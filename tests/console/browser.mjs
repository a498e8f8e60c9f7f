// Debian's Chromium, headless, as every browser test here launches it.
import { chromium } from "playwright-core";

export const launch = () =>
  chromium.launch({
    executablePath: "/usr/bin/chromium",
    headless: true,
    // Without these, Chromium reaches for Google's hosts at start; nothing here leaves 127.0.0.1.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });

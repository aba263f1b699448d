// The steps both browser scripts share (console_test.js, storage_test.js): given the
// console's URL and the list the browser's errors go into.
"use strict";
const { chromium } = require("playwright-core");

const LAPTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

module.exports = (base, errors) => {
  // Debian's chromium (CHROMIUM), headless.
  const launch = () => chromium.launch({ executablePath: process.env.CHROMIUM, headless: true, args: ["--no-sandbox"] });
  // A new browser context at laptop width (or as options say) and its page, its errors watched.
  async function openPage(browser, who, options) {
    const ctx = await browser.newContext(Object.assign({ viewport: LAPTOP }, options));
    const page = await ctx.newPage();
    watch(page, who);
    return { ctx, page };
  }
  function watch(page, who) {
    page.on("console", (m) => { if (m.type() === "error") errors.push(`${who}: console: ${m.text()}`); });
    page.on("pageerror", (e) => errors.push(`${who}: page error: ${e.message}`));
  }
  async function ready(page, name, timeout = 30000) {
    await page.waitForSelector(`main[data-ready="${name}"]`, { timeout });
  }
  // From a blank page to the page's data on screen: a full load of the console (its files from
  // the browser's cache when it may) and the page's API calls.
  async function timed(page, hash, name) {
    await page.goto("about:blank");
    const t0 = Date.now();
    await page.goto(base + hash);
    await ready(page, name);
    return Date.now() - t0;
  }
  async function signIn(page, ak, sk) {
    await page.goto(base);
    await ready(page, "signin");
    await page.getByLabel(/AccessKey ID/).fill(ak);
    await page.getByLabel(/AccessKey secret/).fill(sk);
    await page.getByRole("button", { name: "Sign in" }).click();
    await ready(page, "instances");
  }
  // The browser's reports since errors[n] of refusals the test asked for (a 4xx answer is a
  // failed load to it) dropped; any other error stays.
  function dropRefused(n, status) {
    const refusal = `Failed to load resource: the server responded with a status of ${status}`;
    for (const e of errors.splice(n)) if (!e.includes(refusal)) errors.push(e);
  }
  // body(browser) in a launched browser; its result printed as the JSON line the Python side
  // reads if no browser error is left, else (or on any failure) what each page showed and exit 1.
  function runBrowser(body) {
    (async () => {
      const browser = await launch();
      try {
        const result = await body(browser);
        if (errors.length) throw new Error(`browser errors: ${errors.join("; ")}`);
        console.log(JSON.stringify(Object.assign({ ok: true }, result)));
      } catch (e) {
        for (const pg of browser.contexts().flatMap((c) => c.pages()))
          console.error(`page ${pg.url()}: error box: ${await pg.locator("#error").textContent().catch(() => "?")}`);
        console.error(`browser errors: ${errors.join("; ")}`);
        throw e;
      } finally {
        await browser.close();
      }
    })().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
  }
  return { LAPTOP, PHONE, launch, openPage, watch, ready, timed, signIn, dropRefused, runBrowser };
};

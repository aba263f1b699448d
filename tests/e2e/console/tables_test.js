// The console's tables pages in Debian's chromium, driven by playwright-core
// (tests/e2e/test_console_ots.py runs this with node and reads the JSON line it prints).
// Environment: ENDPOINT, AK1/SK1 (who has the table TABLE of ROWS rows, keys 0..ROWS-1),
// AK2/SK2 (a second account), SHOTS, CHROMIUM.
"use strict";

const E = process.env;
const base = `${E.ENDPOINT}/console/`;
const errors = [];
const timings = {};
const { PHONE, openPage, ready, timed, signIn, dropRefused, runBrowser } = require("./helpers")(base, errors);
const check = (cond, what) => { if (!cond) throw new Error(what); };
const firstKeys = (page) => page.locator("main tbody tr").evaluateAll((trs) => trs.map((tr) => tr.cells[0].textContent));

runBrowser(async (browser) => {
  const { page } = await openPage(browser, "alice");
  await signIn(page, E.AK1, E.SK1);
  timings.tables = await timed(page, "#/tables", "tables");
  await page.screenshot({ path: `${E.SHOTS}/tables-laptop.png` });
  await page.locator(`tr[data-id="${E.TABLE}"] a`).click();
  await ready(page, "table");
  timings.table = await timed(page, `#/table/${E.TABLE}`, "table");
  // Describe: the key's columns with their types.
  const dl = await page.locator("dl.attrs").textContent();
  check(dl.includes("uid (INTEGER)") && dl.includes("name (STRING)") && dl.includes("age (INTEGER)"), `describe: ${dl}`);
  // Scan: pages of 20 in key order, then the last one with "Next page" off.
  const rows = Number(E.ROWS);
  let seen = await firstKeys(page);
  await page.screenshot({ path: `${E.SHOTS}/table-laptop.png` });
  for (let n = 2; seen.length < rows && n < 10; n++) {
    await page.getByRole("button", { name: "Next page" }).click();
    await page.locator(`[data-page="${n}"]`).waitFor();
    seen = seen.concat(await firstKeys(page));
  }
  check(JSON.stringify(seen) === JSON.stringify([...Array(rows).keys()].map(String)), `scanned: ${seen}`);
  check(await page.getByRole("button", { name: "Next page" }).isDisabled(), "a page after the last");
  await page.getByRole("button", { name: "First page" }).click();
  await page.locator('[data-page="1"]').waitFor();
  await page.setViewportSize(PHONE);
  await page.goto(base + "#/tables");
  await ready(page, "tables");
  await page.screenshot({ path: `${E.SHOTS}/tables-phone.png` });
  await page.goto(base + `#/table/${E.TABLE}`);
  await ready(page, "table");
  await page.screenshot({ path: `${E.SHOTS}/table-phone.png` });
  // Chinese.
  await page.locator("#lang").selectOption("zh");
  await ready(page, "table");
  check((await page.locator("main").textContent()).includes("主键"), "no Chinese on the table's page");
  await page.locator("#lang").selectOption("en");
  await ready(page, "table");
  // The second account: no table, and alice's is OTSObjectNotExist.
  const { page: page2 } = await openPage(browser, "bob");
  await signIn(page2, E.AK2, E.SK2);
  await page2.goto(base + "#/tables");
  await ready(page2, "tables");
  check(await page2.locator(`tr[data-id="${E.TABLE}"]`).count() === 0, "bob sees alice's table");
  const n = errors.length;
  await page2.goto(base + `#/table/${E.TABLE}`);
  await page2.locator("#error strong", { hasText: "OTSObjectNotExist" }).waitFor();
  dropRefused(n, 404);
  return { timings };
});

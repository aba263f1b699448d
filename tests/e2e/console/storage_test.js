// The console's object storage pages in Debian's chromium, driven by playwright-core
// (tests/e2e/test_console_oss.py runs this with node and reads the JSON line it prints).
// Environment: ENDPOINT, AK1/SK1 (the bucket's owner, who has a bucket BUCKET with
// SEEDED_KEY = SEEDED_BODY in it already), AK2/SK2 (a second account), SHOTS, CHROMIUM.
"use strict";
const http = require("http");

const E = process.env;
const base = `${E.ENDPOINT}/console/`;
const errors = [];
const timings = {};

const { PHONE, openPage, ready, timed, signIn, dropRefused, runBrowser } = require("./helpers")(base, errors);
const get = (url) => new Promise((resolve, reject) => {
  http.get(url, (r) => { const b = []; r.on("data", (d) => b.push(d)); r.on("end", () => resolve([r.statusCode, Buffer.concat(b)])); })
    .on("error", reject);
});
const check = (cond, what) => { if (!cond) throw new Error(what); };

runBrowser(async (browser) => {
  const { ctx, page } = await openPage(browser, "alice", { acceptDownloads: true });
  await signIn(page, E.AK1, E.SK1);
  // Buckets: the seeded one listed; create another and delete it.
  timings.buckets = await timed(page, "#/buckets", "buckets");
  await page.locator(`tr[data-id="${E.BUCKET}"]`).waitFor();
  await page.getByLabel(/^Name/).fill("web-made-here");
  await page.getByRole("button", { name: "Create bucket" }).click();
  await page.locator('tr[data-id="web-made-here"]').waitFor();
  await page.screenshot({ path: `${E.SHOTS}/buckets-laptop.png` });
  await page.getByRole("button", { name: "Delete web-made-here" }).click();
  await page.locator("dialog[open] #confirm-ok").click();
  await page.locator('tr[data-id="web-made-here"]').waitFor({ state: "detached" });
  await ready(page, "buckets");
  // Browse: the seeded object's folder is a common prefix; upload beside it.
  timings.bucket = await timed(page, `#/bucket/${E.BUCKET}`, "bucket");
  const dir = E.SEEDED_KEY.split("/")[0] + "/";
  await page.locator(`tr[data-id="${dir}"]`).waitFor();
  await page.getByLabel(/^File/).setInputFiles({ name: "hello.txt", mimeType: "text/plain", buffer: Buffer.from("hello from the browser\n") });
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator('tr[data-id="hello.txt"]').waitFor();
  await page.screenshot({ path: `${E.SHOTS}/bucket-laptop.png` });
  await page.locator(`tr[data-id="${dir}"] a`).click();
  await ready(page, "bucket");
  await page.locator(`tr[data-id="${E.SEEDED_KEY}"]`).waitFor();
  // Download: the object's bytes as the browser saves them.
  const [dl] = await Promise.all([page.waitForEvent("download"),
    page.getByRole("button", { name: `Download ${E.SEEDED_KEY}` }).click()]);
  const saved = require("fs").readFileSync(await dl.path(), "utf8");
  check(saved === E.SEEDED_BODY && dl.suggestedFilename() === E.SEEDED_KEY.split("/").pop(), `download: ${saved}`);
  // A presigned link: works with no session at all.
  await page.getByRole("button", { name: `Link ${E.SEEDED_KEY}` }).click();
  const link = await page.locator(`input[data-link="${E.SEEDED_KEY}"]`).inputValue();
  check(!link.includes(E.SK1), "the secret is in the link");
  const [st, body] = await get(link);
  check(st === 200 && body.toString() === E.SEEDED_BODY, `link answered ${st}`);
  await page.getByRole("link", { name: "Up", exact: true }).click();
  await page.locator('tr[data-id="hello.txt"]').waitFor();
  await page.getByRole("button", { name: "Delete hello.txt" }).click();
  await page.locator("dialog[open] #confirm-ok").click();
  await page.locator('tr[data-id="hello.txt"]').waitFor({ state: "detached" });
  await ready(page, "bucket");
  // Phone width.
  await page.setViewportSize(PHONE);
  await page.goto(base + "#/buckets");
  await ready(page, "buckets");
  await page.screenshot({ path: `${E.SHOTS}/buckets-phone.png` });
  await page.goto(base + `#/bucket/${E.BUCKET}`);
  await ready(page, "bucket");
  await page.screenshot({ path: `${E.SHOTS}/bucket-phone.png` });
  // The second account: none of it listed, and the bucket refused by ecs-ossd.
  const { page: page2 } = await openPage(browser, "bob");
  await signIn(page2, E.AK2, E.SK2);
  await page2.goto(base + "#/buckets");
  await ready(page2, "buckets");
  check(await page2.locator(`tr[data-id="${E.BUCKET}"]`).count() === 0, "bob sees alice's bucket");
  const n = errors.length;
  await page2.goto(base + `#/bucket/${E.BUCKET}`);
  await page2.locator("#error strong", { hasText: "AccessDenied" }).waitFor();
  dropRefused(n, 403);
  return { timings };
});

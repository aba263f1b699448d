// The web console in Debian's chromium, driven by playwright-core (tests/e2e/test_console.py
// runs this with node and reads the JSON lines it prints). Environment: ENDPOINT, AK1/SK1 and
// AK2/SK2 (two accounts), EVIL (a page of another origin that posts a form to the console),
// SHOTS (where the screenshots go), CHROMIUM (the browser).
"use strict";
const fs = require("fs");

const E = process.env;
const base = `${E.ENDPOINT}/console/`;
const out = (o) => console.log(JSON.stringify(o));
const errors = [];
const timings = {};
const PAGES = ["instances", "create", "keypairs", "sgs", "disks", "snapshots", "images", "slbs", "policies"];

const { PHONE, launch, openPage, watch, ready, timed, signIn } = require("./helpers")(base, errors);
// A refused call is a failed load to the browser (a 4xx answer): expected where the test
// asks for one, so the errors since n of that kind only are dropped.
function expectRefused(n) {
  for (const e of errors.splice(n))
    if (!/Failed to load resource: the server responded with a status of 4\d\d/.test(e)) errors.push(e);
}
async function shot(page, name, size, fullPage = false) {
  await page.screenshot({ path: `${E.SHOTS}/${name}-${size}.png`, fullPage });
}
async function confirmDialog(page) {
  await page.locator("dialog[open] #confirm-ok").click();
}
async function rowStatus(page, id) {
  return page.locator(`tr[data-id="${id}"] [data-status]`).getAttribute("data-status", { timeout: 1000 }).catch(() => null);
}
async function waitRow(page, id, status, timeoutMs) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if ((await rowStatus(page, id)) === status) return;
    if (Date.now() > end) throw new Error(`${id} did not show ${status} (last: ${await rowStatus(page, id)})`);
    await page.waitForTimeout(1000);
  }
}

(async () => {
  const browser = await launch();
  try {
    // ---- account 1 at laptop width ----
    const { ctx, page } = await openPage(browser, "alice", { acceptDownloads: true });
    await page.goto(base);
    await ready(page, "signin");
    await shot(page, "signin", "laptop");
    await signIn(page, E.AK1, E.SK1);
    // The secret is in no storage the page can read, and the session cookie is not readable.
    const stored = await page.evaluate(() => JSON.stringify([document.cookie, { ...localStorage }, { ...sessionStorage }]));
    if (stored.includes(E.SK1) || stored.includes("ecs_console")) throw new Error(`secret or session readable: ${stored}`);
    const cookies = await ctx.cookies();
    const sc = cookies.find((c) => c.name === "ecs_console");
    if (!sc || !sc.httpOnly || sc.sameSite !== "Strict") throw new Error(`session cookie: ${JSON.stringify(sc)}`);
    out({ step: "signed in" });

    // A key pair: its private key downloaded once.
    await page.goto(base + "#/keypairs");
    await ready(page, "keypairs");
    await page.getByLabel("Name").fill("console-key");
    const [dl] = await Promise.all([page.waitForEvent("download"),
      page.getByRole("button", { name: "Create key pair" }).click()]);
    const pem = fs.readFileSync(await dl.path(), "utf8");
    if (!pem.includes("PRIVATE KEY")) throw new Error("the download is not a private key");
    await ready(page, "keypairs");
    out({ step: "key pair", file: dl.suggestedFilename() });

    // A security group with a rule.
    await page.goto(base + "#/sgs");
    await ready(page, "sgs");
    await page.getByLabel("Name").fill("console-web");
    await page.getByRole("button", { name: "Create security group" }).click();
    await ready(page, "sg");
    await page.getByLabel("Port range").fill("22/22");
    await page.getByRole("button", { name: "Add rule" }).click();
    await page.waitForSelector("td:text-is('22/22')");
    await ready(page, "sg");
    await shot(page, "security-group", "laptop");
    const sgUrl = page.url();
    out({ step: "security group" });

    // An instance: created, then Running on the list without a reload.
    await page.goto(base + "#/create");
    await ready(page, "create");
    await shot(page, "create", "laptop");
    await page.getByLabel("Name", { exact: true }).fill("console-vm");
    await page.getByLabel("Key pair").selectOption("console-key");
    await page.getByLabel(/console-web/).check();
    await page.getByLabel(/Data disk/).fill("1");
    await page.getByLabel(/User data/).fill("#!/bin/sh\necho console-user-data\n");
    await page.getByRole("button", { name: "Create", exact: true }).click();
    await ready(page, "instances");
    await page.evaluate(() => { window.__noReload = true; });
    const row = page.locator("tbody tr[data-id]").first();
    await row.waitFor({ timeout: 30000 });
    const iid = await row.getAttribute("data-id");
    await waitRow(page, iid, "Running", 240000);
    if (!(await page.evaluate(() => window.__noReload))) throw new Error("the list reloaded the page");
    out({ step: "running", instance: iid });
    await shot(page, "instances", "laptop");

    // Its page, and a graph with real points: two at least (the agent's samples come in 60 s
    // points, so the second comes within two minutes of the first).
    await page.locator(`a[href="#/instance/${iid}"]`).click();
    await ready(page, "instance");
    let points = 0;
    for (let i = 0; i < (E.DEBUG_NO_POINTS ? 1 : 45) && points < 2; i++) {
      points = Number(await page.locator('[data-chart="cpu"] svg').getAttribute("data-points"));
      if (points < 2) {
        await page.waitForTimeout(5000);
        await page.locator('button[data-range="1h"]').click();
        await page.waitForTimeout(500);
      }
    }
    if (points < 2 && !E.DEBUG_NO_POINTS) throw new Error(`${points} monitoring points in 250 s`);
    const circles = await page.locator('[data-chart="cpu"] svg circle').count();
    await page.locator('button[data-range="1d"]').click();
    await page.waitForSelector('button[data-range="1d"][aria-pressed="true"]');
    await page.locator('button[data-range="1h"]').click();
    await page.waitForSelector('button[data-range="1h"][aria-pressed="true"]');
    if (points) await page.waitForSelector('[data-chart="net"] svg polyline', { state: "attached" });
    await shot(page, "instance", "laptop", true);
    out({ step: "graph", points, circles });

    // The VNC console: noVNC's canvas, through the controller's WebSocket and the agent, shows
    // the guest's screen. The framebuffer is read back from the canvas: the guest's size, more
    // than one colour.
    // First the test checks the tokens itself while the guest runs, then says go on.
    out({ step: "vnc", instance: iid });
    await new Promise((resolve) => process.stdin.once("data", resolve));
    process.stdin.pause();
    await page.locator(`a[data-action="vnc"]`).first().click();
    await page.waitForSelector('[data-vnc="connected"]', { timeout: 60000 });
    let fb = { width: 0, height: 0, colours: 0, lit: 0 };
    for (let i = 0; i < 60 && fb.colours < 2; i++) {
      fb = await page.evaluate(() => {
        const c = document.querySelector(".vnc-screen canvas");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        const colours = new Set();
        let lit = 0;
        for (let k = 0; k < d.length; k += 4 * 7) {
          const v = (d[k] << 16) | (d[k + 1] << 8) | d[k + 2];
          colours.add(v);
          if (v) lit++;
        }
        return { width: c.width, height: c.height, colours: colours.size, lit };
      });
      if (fb.colours < 2) await page.waitForTimeout(1000);
    }
    await shot(page, "vnc", "laptop");
    out({ step: "vnc shown", ...fb });
    await page.locator('a[href^="#/instance/"]').first().click();
    await ready(page, "instance");

    // Load balancers: the one the test made (a TCP listener, this guest behind it), its page
    // with the listener, the backend and its health.
    await page.goto(base + "#/slbs");
    await ready(page, "slbs");
    await shot(page, "slbs", "laptop");
    await page.locator('a[href^="#/slb/"]').first().click();
    await ready(page, "slb");
    await page.waitForSelector("[data-health]");
    const lbShown = await page.evaluate(() => {
      const tables = [...document.querySelectorAll("main table")];
      const col = (t, i) => [...t.querySelectorAll("tbody tr")].map((r) => r.children[i]?.textContent);
      return { listeners: col(tables[0], 0), backends: col(tables[1], 0),
        health: [...document.querySelectorAll("[data-health]")].map((e) => e.dataset.health) };
    });
    const slbHash = new URL(page.url()).hash;
    await shot(page, "slb", "laptop", true);
    out({ step: "load balancer", ...lbShown });

    // Automatic snapshot policies: one made on the page.
    await page.goto(base + "#/policies");
    await ready(page, "policies");
    await page.locator('input[name="autoSnapshotPolicyName"]').fill("console-policy");
    await page.locator('input[name="timePoints"]').fill("3,15");
    await page.locator('input[name="retentionDays"]').fill("5");
    await page.getByRole("button", { name: "Create policy" }).click();
    await page.waitForSelector("main td:text-is('console-policy')");
    await shot(page, "policies", "laptop");

    // Each page's time from navigation to its data (twice: the second is with a warm cache).
    for (const p of PAGES) await timed(page, `#/${p}`, p);
    for (const p of PAGES) timings[p] = await timed(page, `#/${p}`, p);
    timings.instance = await timed(page, `#/instance/${iid}`, "instance");
    timings.sg = await timed(page, sgUrl.slice(sgUrl.indexOf("#")), "sg");
    for (const p of ["keypairs", "sgs", "disks", "snapshots", "images"]) {
      await page.goto(base + `#/${p}`);
      await ready(page, p);
      await shot(page, p, "laptop");
    }

    // The same pages at phone width, in the same session.
    const phone = await browser.newContext({ viewport: PHONE, storageState: await ctx.storageState(), isMobile: true,
      hasTouch: true });
    const pp = await phone.newPage();
    watch(pp, "alice-phone");
    for (const [hash, name, file] of [["#/instances", "instances", "instances"], ["#/create", "create", "create"],
      [`#/instance/${iid}`, "instance", "instance"], ["#/keypairs", "keypairs", "keypairs"], ["#/sgs", "sgs", "sgs"],
      [sgUrl.slice(sgUrl.indexOf("#")), "sg", "security-group"], ["#/disks", "disks", "disks"],
      ["#/snapshots", "snapshots", "snapshots"], ["#/images", "images", "images"], ["#/slbs", "slbs", "slbs"],
      [slbHash, "slb", "slb"], ["#/policies", "policies", "policies"]]) {
      await pp.goto(base + hash);
      await ready(pp, name);
      await shot(pp, file, "phone", name === "instance");
    }
    await phone.close();

    // Chinese.
    await page.goto(base + "#/instances");
    await ready(page, "instances");
    await page.locator("#lang").selectOption("zh");
    await ready(page, "instances");
    await page.waitForSelector("nav a:text-is('实例')");
    await page.waitForSelector("th:text-is('状态')");
    await shot(page, "instances-zh", "laptop");
    await page.locator("#lang").selectOption("en");
    await ready(page, "instances");

    // The load balancer deleted on its list (with its confirmation).
    await page.goto(base + "#/slbs");
    await ready(page, "slbs");
    await page.locator("main button.danger").first().click();
    await confirmDialog(page);
    await page.waitForSelector('main a[href^="#/slb/"]', { state: "detached", timeout: 60000 });

    // Stop (with its confirmation, which a cancel leaves running), then delete.
    await page.goto(base + "#/instances");
    await ready(page, "instances");
    await page.locator(`tr[data-id="${iid}"] button[data-action="StopInstance"]`).click();
    await page.locator("dialog[open] button[value=cancel]").click();
    await page.waitForTimeout(1000);
    if ((await rowStatus(page, iid)) !== "Running") throw new Error("a cancelled stop stopped the instance");
    await page.locator(`tr[data-id="${iid}"] button[data-action="StopInstance"]`).click();
    await confirmDialog(page);
    await waitRow(page, iid, "Stopped", 180000);
    await page.locator(`tr[data-id="${iid}"] button[data-action="DeleteInstance"]`).click();
    await confirmDialog(page);
    await page.locator(`tr[data-id="${iid}"]`).waitFor({ state: "detached", timeout: 180000 });
    out({ step: "stopped and deleted" });

    // An API error is shown with its Code and Message.
    await page.goto(base + "#/keypairs");
    await ready(page, "keypairs");
    await page.getByLabel("Name").fill("console-key");
    const n0 = errors.length;
    await page.getByRole("button", { name: "Create key pair" }).click();
    await page.waitForSelector("#error:not([hidden])");
    await page.waitForTimeout(300);
    expectRefused(n0);
    const shown = await page.locator("#error").innerText();
    if (!shown.includes("KeyPair.AlreadyExist") && !/\w+\.\w+: /.test(shown)) throw new Error(`error shown: ${shown}`);
    out({ step: "error shown", text: shown });

    // ---- account 2 sees none of account 1's resources ----
    const { ctx: ctx2, page: p2 } = await openPage(browser, "bob");
    await signIn(p2, E.AK2, E.SK2);
    const seen = {};
    for (const p of ["instances", "keypairs", "sgs", "disks", "snapshots", "slbs", "policies"]) {
      await p2.goto(base + `#/${p}`);
      await ready(p2, p);
      seen[p] = await p2.locator("tbody tr[data-id]").count();
    }
    await p2.goto(base + `#/instance/${iid}`);
    await p2.waitForSelector("#error:not([hidden])");
    seen.instanceError = await p2.locator("#error").innerText();
    const n1 = errors.length;
    await p2.goto(base + sgUrl.slice(sgUrl.indexOf("#")));
    await p2.waitForSelector("#error:not([hidden])");
    await p2.waitForTimeout(300);
    expectRefused(n1);
    seen.sgError = await p2.locator("#error").innerText();
    out({ step: "second account", seen });
    await ctx2.close();

    // ---- a form another site posts to the console, in the signed-in browser ----
    const evil = await ctx.newPage(); // not watched: its refused post is the point
    await evil.goto(E.EVIL);
    await evil.waitForURL(/\/console\/api\//, { timeout: 30000 });
    const evilBody = await evil.locator("body").innerText();
    out({ step: "cross-site post", body: evilBody });
    await evil.close();

    // Sign out: the session ends.
    await page.goto(base + "#/instances");
    await ready(page, "instances");
    await page.getByRole("button", { name: "Sign out" }).click();
    await ready(page, "signin");
    await page.goto(base + "#/instances");
    await ready(page, "signin");
    out({ step: "signed out" });

    out({ timings, errors });
  } finally {
    await browser.close();
  }
})().catch((e) => { out({ fatal: String(e.stack || e), timings, errors }); process.exit(1); });

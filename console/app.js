/* The ECS web console: a page per resource over /console/api/<Action> (controller/console.h).
 * No framework: DOM built with textContent only (never HTML from data), hash routes, polling
 * for live state. The session is an HttpOnly cookie; this script holds only the CSRF token. */
"use strict";
(() => {
  const main = document.getElementById("main");
  const errBox = document.getElementById("error");
  const statusBox = document.getElementById("status");
  let session = null;
  let poll = null;
  let lang = localStorage.getItem("ecs.lang") || (navigator.language.startsWith("zh") ? "zh" : "en");

  // ---- words and elements ----
  function t(key, ...args) {
    let s = (window.ECS_I18N[lang] || {})[key] ?? window.ECS_I18N.en[key] ?? key;
    args.forEach((v, i) => { s = s.replace(`{${i}}`, v); });
    return s;
  }
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  const SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  function translatePage() {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    for (const e of document.querySelectorAll("[data-i18n]")) e.textContent = t(e.dataset.i18n);
    document.getElementById("lang").value = lang;
  }

  // ---- the API ----
  class ApiError extends Error {
    constructor(code, message, requestId) { super(message); this.code = code; this.requestId = requestId; }
  }
  async function post(path, params) {
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== "") body.append(k, v);
    const headers = { "Content-Type": "application/x-www-form-urlencoded" };
    if (session) headers["X-Ecs-Csrf-Token"] = session.CsrfToken;
    const r = await fetch(path, { method: "POST", headers, body, credentials: "same-origin", cache: "no-store" });
    const j = await r.json().catch(() => ({}));
    if (!r.ok) {
      if (j.Code === "SessionExpired" && session) { session = null; showSignIn(t("session.expired")); }
      throw new ApiError(j.Code || `HTTP ${r.status}`, j.Message || r.statusText, j.RequestId);
    }
    return j;
  }
  const api = (action, params) => post(`/console/api/${action}`, params);
  const list = (o, a, b) => (o && o[a] && o[a][b]) || [];

  function showError(e) {
    errBox.hidden = false;
    errBox.replaceChildren(...[h("strong", { text: `${e.code || t("err.code")}: ` }), e.message || String(e),
      e.requestId ? h("span", { class: "hint", text: ` (RequestId ${e.requestId})` }) : null].filter((x) => x !== null));
  }
  function clearError() { errBox.hidden = true; errBox.replaceChildren(); }
  function say(text) { statusBox.textContent = text; }
  async function run(fn) {
    try { clearError(); return await fn(); } catch (e) { showError(e); return undefined; }
  }

  const dialog = document.getElementById("confirm");
  function confirmed(text) {
    document.getElementById("confirm-text").textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
      dialog.returnValue = "";
      dialog.showModal();
      document.getElementById("confirm-ok").focus();
    });
  }

  // ---- pieces ----
  const status = (st) => h("span", { class: `st st-${st}`, "data-status": st, text: st });
  function table(cols, rows, empty) {
    const head = h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.opt ? "opt" : null, text: t(c.k) })));
    const body = h("tbody", {});
    fillBody(body, cols, rows, empty);
    return h("div", { class: "tablewrap" }, h("table", {}, h("thead", {}, head), body));
  }
  function fillBody(body, cols, rows, empty) {
    body.replaceChildren(...(rows.length ? rows.map((r) => h("tr", { "data-id": r.__id },
      cols.map((c) => h("td", { class: c.opt ? "opt" : null }, c.f(r))))) :
      [h("tr", {}, h("td", { colspan: cols.length, text: empty || t("none") }))]));
  }
  function ready(name) { main.dataset.ready = name; }
  function page(title, ...kids) {
    main.replaceChildren(h("h1", { text: title }), ...kids);
  }
  function field(label, input, hint) {
    return h("label", {}, label, hint ? h("span", { class: "hint", text: hint }) : null, input);
  }
  function utf8b64(text) {
    const bytes = new TextEncoder().encode(text);
    let bin = "";
    bytes.forEach((b) => { bin += String.fromCharCode(b); });
    return btoa(bin);
  }
  function b64utf8(b64) {
    const bin = atob(b64 || "");
    return new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  }
  const ip = (i) => list(i.VpcAttributes, "PrivateIpAddress", "IpAddress")[0] ||
    list(i, "InnerIpAddress", "IpAddress")[0] || "";

  // ---- instances ----
  async function instanceAction(i, action) {
    const key = { StartInstance: "confirm.start", StopInstance: "confirm.stop", RebootInstance: "confirm.reboot",
      DeleteInstance: "confirm.delete" }[action];
    if (!(await confirmed(t(key, i.InstanceName || i.InstanceId)))) return;
    const ok = await run(() => api(action, { InstanceId: i.InstanceId }));
    if (ok) say(t("done.action", `${action} ${i.InstanceId}`));
  }
  function instanceButtons(i) {
    const b = (k, action, cls, enabled) => h("button", { type: "button", class: cls, disabled: !enabled,
      "data-action": action, "aria-label": `${t(k)} ${i.InstanceId}`, onclick: () => instanceAction(i, action) }, t(k));
    return h("div", { class: "actions" }, b("start", "StartInstance", "", i.Status === "Stopped"),
      b("stop", "StopInstance", "", i.Status === "Running"), b("reboot", "RebootInstance", "", i.Status === "Running"),
      b("delete", "DeleteInstance", "danger", i.Status === "Stopped"),
      ...(i.Status === "Running" ? [h("a", { class: "button", href: `#/vnc/${i.InstanceId}`, "data-action": "vnc",
        "aria-label": `${t("vnc.open")} ${i.InstanceId}` }, t("vnc.open"))] : []));
  }
  async function pageInstances() {
    const cols = [
      { k: "name", f: (i) => h("a", { href: `#/instance/${i.InstanceId}` }, i.InstanceName || i.InstanceId,
        h("div", { class: "hint mono", text: i.InstanceId })) },
      { k: "status", f: (i) => status(i.Status) },
      { k: "ip", f: (i) => ip(i) },
      { k: "host", opt: true, f: (i) => i.HostId || "" },
      { k: "type", opt: true, f: (i) => i.InstanceType },
      { k: "actions", f: instanceButtons },
    ];
    const load = async () => list(await api("DescribeInstances", { PageSize: 100 }), "Instances", "Instance")
      .map((i) => Object.assign(i, { __id: i.InstanceId }));
    const rows = await load();
    const wrap = table(cols, rows, t("inst.empty"));
    page(t("inst.title"), h("div", { class: "toolbar" },
      h("a", { class: "button primary", href: "#/create" }, t("inst.create"))), wrap);
    ready("instances");
    let last = JSON.stringify(rows);
    poll = setInterval(async () => {
      try {
        const now = await load();
        const text = JSON.stringify(now);
        if (text !== last) { last = text; fillBody(wrap.querySelector("tbody"), cols, now, t("inst.empty")); }
      } catch (e) { showError(e); }
    }, 3000);
  }

  async function pageCreate() {
    const [imgs, types, kps, sgs] = await Promise.all([api("DescribeImages", { PageSize: 100 }),
      api("DescribeInstanceTypes"), api("DescribeKeyPairs", { PageSize: 50 }), api("DescribeSecurityGroups", { PageSize: 50 })]);
    const sel = (name, opts) => h("select", { name, required: true }, opts.map(([v, l]) => h("option", { value: v }, l)));
    const image = sel("ImageId", list(imgs, "Images", "Image").map((i) => [i.ImageId, `${i.ImageName || i.ImageId} (${i.ImageId})`]));
    const type = sel("InstanceType", list(types, "InstanceTypes", "InstanceType").map((x) =>
      [x.InstanceTypeId, `${x.InstanceTypeId} · ${x.CpuCoreCount} vCPU · ${x.MemorySize} GiB`]));
    const kp = h("select", { name: "KeyPairName" }, h("option", { value: "" }, t("inst.nokey")),
      list(kps, "KeyPairs", "KeyPair").map((k) => h("option", { value: k.KeyPairName }, k.KeyPairName)));
    const groups = h("fieldset", {}, h("legend", { text: t("inst.sgs") }),
      list(sgs, "SecurityGroups", "SecurityGroup").map((g) => h("label", {},
        h("input", { type: "checkbox", name: "sg", value: g.SecurityGroupId }), `${g.SecurityGroupName || ""} ${g.SecurityGroupId}`)));
    const name = h("input", { name: "InstanceName", autocomplete: "off" });
    const disk = h("input", { name: "DataDisk", type: "number", min: 1, max: 32768, inputmode: "numeric" });
    const userData = h("textarea", { name: "UserData", spellcheck: "false" });
    const submit = h("button", { class: "primary", type: "submit" }, t("create"));
    const form = h("form", { class: "stack card", onsubmit: async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      const p = { ImageId: image.value, InstanceType: type.value, KeyPairName: kp.value, InstanceName: name.value, Amount: 1 };
      [...groups.querySelectorAll("input:checked")].forEach((c, n) => { p[`SecurityGroupIds.${n + 1}`] = c.value; });
      if (disk.value) p["DataDisk.1.Size"] = disk.value;
      if (userData.value) p.UserData = utf8b64(userData.value);
      const r = await run(() => api("RunInstances", p));
      submit.disabled = false;
      if (r) { say(t("done.created", list(r, "InstanceIdSets", "InstanceIdSet").join(", "))); location.hash = "#/instances"; }
    } }, field(t("name"), name), field(t("image"), image), field(t("type"), type), field(t("inst.keypair"), kp),
    groups, field(t("inst.datadisk"), disk), field(t("inst.userdata"), userData), h("div", { class: "row" }, submit));
    page(t("inst.create"), form);
    ready("create");
    image.focus();
  }

  // ---- an instance ----
  const RANGES = { "1h": [3600, 60], "1d": [86400, 600], "7d": [7 * 86400, 3600] };
  const iso = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
  function chart(points, series, label) {
    const W = 600, H = 200, P = 34;
    const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label, "data-points": points.length });
    svg.append(s("line", { class: "axis", x1: P, y1: H - 20, x2: W - 4, y2: H - 20 }),
      s("line", { class: "axis", x1: P, y1: 6, x2: P, y2: H - 20 }));
    if (!points.length) return svg;
    const ts = points.map((p) => Date.parse(p.TimeStamp));
    const t0 = Math.min(...ts), t1 = Math.max(...ts, t0 + 1);
    const max = Math.max(1, ...series.flatMap(([key]) => points.map((p) => Number(p[key]) || 0)));
    const x = (v) => P + ((v - t0) / (t1 - t0)) * (W - P - 8);
    const y = (v) => H - 20 - (v / max) * (H - 30);
    for (const [key, cls] of series) {
      const xy = points.map((p, n) => [x(ts[n]), y(Number(p[key]) || 0)]);
      svg.append(s("polyline", { class: cls, points: xy.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" ") }));
      for (const [a, b] of xy) svg.append(s("circle", { cx: a.toFixed(1), cy: b.toFixed(1), r: 2.5, class: cls, fill: "currentColor" }));
    }
    const txt = (xx, yy, v, anchor) => { const e = s("text", { x: xx, y: yy, "text-anchor": anchor }); e.textContent = v; return e; };
    svg.append(txt(P - 4, 14, max.toFixed(max < 10 ? 1 : 0), "end"), txt(P - 4, H - 22, "0", "end"),
      txt(P, H - 5, new Date(t0).toLocaleString(), "start"), txt(W - 4, H - 5, new Date(t1).toLocaleString(), "end"));
    return svg;
  }
  async function monitor(box, id, range) {
    const [span, period] = RANGES[range];
    const end = Math.floor(Date.now() / 60000) * 60000 + 60000;
    const r = await api("DescribeInstanceMonitorData", { InstanceId: id, StartTime: iso(end - span * 1000),
      EndTime: iso(end), Period: period });
    const pts = list(r, "MonitorData", "InstanceMonitorData");
    box.replaceChildren(
      h("div", { class: "legend" }, h("span", {}, h("span", { class: "k k-cpu" }), t("chart.cpu"))),
      h("div", { class: "chart", "data-chart": "cpu" }, chart(pts, [["CPU", "line-cpu"]], t("chart.cpu"))),
      h("div", { class: "legend" }, h("span", {}, h("span", { class: "k k-rx" }), t("chart.rx")),
        h("span", {}, h("span", { class: "k k-tx" }), t("chart.tx"))),
      h("div", { class: "chart", "data-chart": "net" }, chart(pts, [["IntranetRX", "line-rx"], ["IntranetTX", "line-tx"]],
        `${t("chart.rx")} / ${t("chart.tx")}`)),
      ...(pts.length ? [] : [h("p", { class: "hint", text: t("chart.nodata") })]));
  }
  function attrs(i) {
    const row = (k, v) => [h("dt", { text: t(k) }), h("dd", {}, v)];
    return h("dl", { class: "attrs" }, row("id", i.InstanceId), row("name", i.InstanceName), row("status", status(i.Status)),
      row("ip", ip(i)), row("inst.publicip", list(i, "PublicIpAddress", "IpAddress").join(", ") || "-"),
      row("host", i.HostId || "-"), row("type", i.InstanceType), row("inst.vcpus", i.Cpu), row("inst.memory", i.Memory),
      row("image", i.ImageId), row("inst.keypair", i.KeyPairName || "-"), row("inst.hostname", i.HostName),
      row("zone", i.ZoneId), row("created", i.CreationTime));
  }
  async function pageInstance(id) {
    const get = async () => list(await api("DescribeInstances", { InstanceIds: JSON.stringify([id]) }), "Instances", "Instance")[0];
    const i = await get();
    if (!i) throw new ApiError("InvalidInstanceId.NotFound", `The specified InstanceId ${id} does not exist.`);
    const sgIds = list(i, "SecurityGroupIds", "SecurityGroupId");
    const [disks, snaps, sgs, events] = await Promise.all([api("DescribeDisks", { InstanceId: id, PageSize: 100 }),
      api("DescribeSnapshots", { InstanceId: id, PageSize: 100 }),
      sgIds.length ? api("DescribeSecurityGroups", { SecurityGroupIds: JSON.stringify(sgIds) }) : {},
      api("DescribeInstanceHistoryEvents", { InstanceId: id, PageSize: 50, "InstanceEventCycleStatus.1": "Executing",
        "InstanceEventCycleStatus.2": "Executed", "InstanceEventCycleStatus.3": "Failed" })]);
    const attrBox = h("div", { class: "card" }, attrs(i));
    const buttons = h("div", { class: "toolbar" }, instanceButtons(i));
    const mon = h("div", { class: "card", "aria-live": "polite" });
    const rangeSel = h("div", { class: "row", role: "group", "aria-label": t("inst.monitor") },
      Object.keys(RANGES).map((r) => h("button", { type: "button", "data-range": r, "aria-pressed": String(r === "1h"),
        onclick: async (ev) => {
          rangeSel.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b === ev.target)));
          await run(() => monitor(mon, id, r));
        } }, t(`range.${r}`))));
    const consoleOut = h("pre", { class: "card mono", "aria-label": t("inst.console") });
    page(`${i.InstanceName || id}`, buttons, h("h2", { text: t("inst.attrs") }), attrBox,
      h("h2", { text: t("inst.monitor") }), rangeSel, mon,
      h("h2", { text: t("inst.disks") }), table([{ k: "id", f: (d) => d.DiskId }, { k: "name", f: (d) => d.DiskName },
        { k: "type", f: (d) => d.Type }, { k: "size", f: (d) => d.Size }, { k: "disk.device", opt: true, f: (d) => d.Device },
        { k: "status", f: (d) => status(d.Status) }], list(disks, "Disks", "Disk")),
      h("h2", { text: t("inst.snapshots") }), table([{ k: "id", f: (x) => x.SnapshotId }, { k: "name", f: (x) => x.SnapshotName },
        { k: "snap.disk", f: (x) => x.SourceDiskId }, { k: "status", f: (x) => status(x.Status) }], list(snaps, "Snapshots", "Snapshot")),
      h("h2", { text: t("inst.sgs") }), table([{ k: "id", f: (g) => h("a", { href: `#/sg/${g.SecurityGroupId}` }, g.SecurityGroupId) },
        { k: "name", f: (g) => g.SecurityGroupName }], list(sgs, "SecurityGroups", "SecurityGroup")),
      h("h2", { text: t("inst.events") }), table([{ k: "ev.type", f: (e) => e.EventType.Name },
        { k: "status", f: (e) => e.EventCycleStatus.Name }, { k: "ev.reason", opt: true, f: (e) => e.Reason || "-" },
        { k: "ev.published", f: (e) => e.EventPublishTime }, { k: "ev.finished", opt: true, f: (e) => e.EventFinishTime || "-" }],
      list(events, "InstanceSystemEventSet", "InstanceSystemEventType"), t("ev.empty")),
      h("h2", { text: t("inst.console") }), consoleOut);
    await run(() => monitor(mon, id, "1h"));
    ready("instance");
    api("GetInstanceConsoleOutput", { InstanceId: id }).then((r) => { consoleOut.textContent = b64utf8(r.ConsoleOutput).slice(-4000) || "-"; },
      () => { consoleOut.textContent = "-"; });
    let last = JSON.stringify(i);
    poll = setInterval(async () => {
      try {
        const now = await get();
        if (now && JSON.stringify(now) !== last) {
          last = JSON.stringify(now);
          attrBox.replaceChildren(attrs(now));
          buttons.replaceChildren(instanceButtons(now));
        }
      } catch (e) { showError(e); }
    }, 3000);
  }

  // ---- the VNC console (noVNC, loaded on this page only; controller/vnc.h) ----
  let vncConn = null;
  function loadNoVnc() {
    if (window.EcsRFB) return Promise.resolve(window.EcsRFB);
    return new Promise((resolve, reject) => {
      const el = document.createElement("script");
      el.src = "novnc.js";
      el.onload = () => resolve(window.EcsRFB);
      el.onerror = () => reject(new ApiError("NoVncMissing", "novnc.js could not be loaded"));
      document.head.appendChild(el);
    });
  }
  async function pageVnc(id) {
    const state = h("p", { class: "status-line", role: "status", "data-vnc": "connecting", text: t("vnc.connecting") });
    const screen = h("div", { class: "vnc-screen", "aria-label": t("vnc.screen") });
    const again = h("button", { type: "button", hidden: true, onclick: () => route() }, t("vnc.reconnect"));
    page(`${t("vnc.title")} ${id}`, h("div", { class: "toolbar" }, h("a", { href: `#/instance/${id}` }, t("vnc.back")), again),
      state, screen, h("p", { class: "hint", text: t("vnc.hint") }));
    const [RFB, r] = await Promise.all([loadNoVnc(), api("DescribeInstanceVncUrl", { InstanceId: id })]);
    // The address names the controller as configured; the page's own host is the one it reached.
    const token = new URL(r.VncUrl.replace(/^ws/, "http")).searchParams.get("token");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/console/vnc?token=${encodeURIComponent(token)}`;
    const rfb = new RFB(screen, url, { wsProtocols: ["binary"] });
    vncConn = rfb;
    rfb.scaleViewport = true;
    rfb.background = "#111";
    rfb.addEventListener("connect", () => { state.dataset.vnc = "connected"; state.textContent = t("vnc.connected"); rfb.focus(); ready("vnc"); });
    rfb.addEventListener("disconnect", (ev) => {
      if (vncConn === rfb) vncConn = null;
      state.dataset.vnc = "disconnected";
      state.textContent = ev.detail.clean ? t("vnc.closed") : t("vnc.lost");
      again.hidden = false;
    });
  }

  // ---- key pairs ----
  function download(name, text) {
    const url = URL.createObjectURL(new Blob([text], { type: "application/x-pem-file" }));
    const a = h("a", { href: url, download: `${name}.pem` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
  async function pageKeyPairs() {
    const r = await api("DescribeKeyPairs", { PageSize: 50 });
    const name = h("input", { name: "KeyPairName", required: true, autocomplete: "off" });
    const form = h("form", { class: "row card", onsubmit: async (ev) => {
      ev.preventDefault();
      const k = await run(() => api("CreateKeyPair", { KeyPairName: name.value }));
      if (!k) return;
      download(k.KeyPairName, k.PrivateKeyBody);
      await route();
      say(t("kp.downloaded", k.KeyPairName));
    } }, field(t("name"), name), h("button", { class: "primary", type: "submit" }, t("kp.create")));
    page(t("kp.title"), form, table([{ k: "name", f: (k) => k.KeyPairName },
      { k: "kp.fingerprint", opt: true, f: (k) => h("span", { class: "mono", text: k.KeyPairFingerPrint }) },
      { k: "actions", f: (k) => h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${k.KeyPairName}`,
        onclick: async () => {
          if (!(await confirmed(t("confirm.delkp", k.KeyPairName)))) return;
          if (await run(() => api("DeleteKeyPairs", { KeyPairNames: JSON.stringify([k.KeyPairName]) }))) await route();
        } }, t("delete")) }], list(r, "KeyPairs", "KeyPair")));
    ready("keypairs");
  }

  // ---- object storage (controller/console_oss.h: the controller signs and forwards) ----
  async function ossFetch(path, body, extra) {
    const headers = Object.assign({ "X-Ecs-Csrf-Token": session.CsrfToken }, extra || {});
    const r = await fetch(path, { method: "POST", headers, body, credentials: "same-origin", cache: "no-store" });
    if (r.ok) return r;
    const text = await r.text();
    let code = `HTTP ${r.status}`, message = r.statusText, rid;
    try { const j = JSON.parse(text); code = j.Code; message = j.Message; rid = j.RequestId; } catch (e) {
      const x = new DOMParser().parseFromString(text, "application/xml");
      code = x.querySelector("Code")?.textContent || code;
      message = x.querySelector("Message")?.textContent || message;
      rid = x.querySelector("RequestId")?.textContent;
    }
    if (code === "SessionExpired") { session = null; showSignIn(t("session.expired")); }
    throw new ApiError(code, message, rid);
  }
  const ossCall = (op, params) => ossFetch("/console/oss/call", new URLSearchParams(Object.assign({ Op: op }, params)),
    { "Content-Type": "application/x-www-form-urlencoded" });
  const xmlOf = async (r) => new DOMParser().parseFromString(await r.text(), "application/xml");
  const texts = (x, sel) => [...x.querySelectorAll(sel)].map((e) => e.textContent);

  async function pageBuckets() {
    const x = await xmlOf(await ossCall("ListBuckets"));
    const rows = [...x.querySelectorAll("Bucket")].map((b) => ({ __id: b.querySelector("Name").textContent,
      name: b.querySelector("Name").textContent, created: b.querySelector("CreationDate")?.textContent || "" }));
    const name = h("input", { name: "BucketName", required: true, autocomplete: "off", pattern: "[a-z0-9][a-z0-9\\-]{1,61}[a-z0-9]" });
    const form = h("form", { class: "row card", onsubmit: async (ev) => {
      ev.preventDefault();
      if (await run(() => ossCall("PutBucket", { Bucket: name.value }))) { await route(); say(t("done.created", name.value)); }
    } }, field(t("name"), name, t("oss.namehint")), h("button", { class: "primary", type: "submit" }, t("oss.create")));
    page(t("oss.title"), form, table([{ k: "name", f: (b) => h("a", { href: `#/bucket/${b.name}` }, b.name) },
      { k: "created", opt: true, f: (b) => b.created },
      { k: "actions", f: (b) => h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${b.name}`,
        onclick: async () => {
          if (!(await confirmed(t("confirm.delbucket", b.name)))) return;
          if (await run(() => ossCall("DeleteBucket", { Bucket: b.name }))) await route();
        } }, t("delete")) }], rows));
    ready("buckets");
  }

  async function pageBucket(bucket, prefixEnc) {
    const prefix = decodeURIComponent(prefixEnc || "");
    const x = await xmlOf(await ossCall("ListObjects", { Bucket: bucket, Prefix: prefix, Delimiter: "/" }));
    const at = (p) => `#/bucket/${bucket}/${encodeURIComponent(p)}`;
    const dirs = texts(x, "CommonPrefixes > Prefix").map((p) => ({ __id: p, dir: true, key: p }));
    const objs = [...x.querySelectorAll("Contents")].map((c) => ({ __id: c.querySelector("Key").textContent,
      key: c.querySelector("Key").textContent, size: c.querySelector("Size")?.textContent || "",
      modified: c.querySelector("LastModified")?.textContent || "" }));
    const file = h("input", { type: "file", name: "file", required: true });
    const form = h("form", { class: "row card", onsubmit: async (ev) => {
      ev.preventDefault();
      const f = file.files[0];
      if (!f) return;
      const key = prefix + f.name;
      say(t("oss.uploading", key));
      const q = new URLSearchParams({ Bucket: bucket, Key: key });
      if (await run(() => ossFetch(`/console/oss/upload?${q}`, f, { "Content-Type": "application/octet-stream" }))) {
        await route();
        say(t("oss.uploaded", key));
      }
    } }, field(t("oss.file"), file, t("oss.limit")), h("button", { class: "primary", type: "submit" }, t("oss.upload")));
    const up = prefix ? prefix.replace(/[^/]*\/$/, "") : null;
    const crumbs = h("p", { class: "toolbar" }, h("a", { href: "#/buckets" }, t("oss.title")), " / ",
      h("a", { href: at("") }, bucket), prefix ? ` / ${prefix}` : "",
      up !== null ? h("a", { href: at(up), class: "button", "data-action": "up" }, t("oss.up")) : null);
    async function download(o) {
      const r = await ossCall("GetObject", { Bucket: bucket, Key: o.key });
      const a = h("a", { href: URL.createObjectURL(await r.blob()), download: o.key.split("/").pop() });
      document.body.append(a);
      a.click();
      a.remove();
      say(t("oss.downloaded", o.key));
    }
    async function presign(o, cell) {
      const r = await ossFetch("/console/oss/presign", new URLSearchParams({ Bucket: bucket, Key: o.key }),
        { "Content-Type": "application/x-www-form-urlencoded" });
      const url = (await r.json()).Url;
      cell.replaceChildren(h("input", { class: "mono", readonly: true, value: url, "aria-label": t("oss.link"), "data-link": o.key }));
      say(t("oss.linkmade", o.key));
    }
    page(`${t("oss.bucket")} ${bucket}`, crumbs, form, table([
      { k: "oss.key", f: (o) => (o.dir ? h("a", { href: at(o.key) }, o.key.slice(prefix.length)) : o.key.slice(prefix.length)) },
      { k: "oss.size", opt: true, f: (o) => (o.dir ? "-" : o.size) },
      { k: "oss.modified", opt: true, f: (o) => o.modified },
      { k: "actions", f: (o) => {
        if (o.dir) return "";
        const cell = h("span", {});
        return h("span", { class: "row" },
          h("button", { type: "button", "data-action": "download", "aria-label": `${t("oss.download")} ${o.key}`,
            onclick: () => run(() => download(o)) }, t("oss.download")),
          h("button", { type: "button", "data-action": "presign", "aria-label": `${t("oss.presign")} ${o.key}`,
            onclick: () => run(() => presign(o, cell)) }, t("oss.presign")),
          h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${o.key}`, onclick: async () => {
            if (!(await confirmed(t("confirm.delobject", o.key)))) return;
            if (await run(() => ossCall("DeleteObject", { Bucket: bucket, Key: o.key }))) await route();
          } }, t("delete")), cell);
      } }], [...dirs, ...objs], t("oss.empty")));
    ready("bucket");
  }

  // ---- tables (controller/console_ots.h: the controller signs and forwards; instance "default") ----
  const otsCall = (op, params) => post("/console/ots/call", Object.assign({ Op: op }, params));
  async function pageTables() {
    const r = await otsCall("ListTable");
    const rows = r.TableNames.map((n) => ({ __id: n, n }));
    page(t("ots.title"), h("p", { class: "hint", text: t("ots.hint") }),
      table([{ k: "name", f: (x) => h("a", { href: `#/table/${encodeURIComponent(x.n)}` }, x.n) }], rows, t("ots.empty")));
    ready("tables");
  }
  const cellText = (c) => (c ? String(c.Value) : "");
  async function pageTable(nameEnc) {
    const name = decodeURIComponent(nameEnc);
    const d = await otsCall("DescribeTable", { Table: name });
    const cols = (list) => list.map((c) => `${c.Name} (${c.Type}${c.AutoIncrement ? ", auto" : ""})`).join(", ") || "-";
    const row = (k, v) => [h("dt", { text: t(k) }), h("dd", {}, v)];
    const info = h("div", { class: "card" }, h("dl", { class: "attrs" }, row("name", d.TableName),
      row("ots.pk", cols(d.PrimaryKey)), row("ots.defined", cols(d.DefinedColumns)),
      row("ots.ttl", d.TimeToLive === -1 ? t("ots.forever") : `${d.TimeToLive} s`), row("ots.versions", d.MaxVersions),
      row("ots.indexes", d.Indexes.join(", ") || "-")));
    const wrap = h("div", { class: "tablewrap" });
    const pageNo = h("span", { class: "hint", "data-page": "1" });
    const more = h("button", { type: "button", "data-action": "next" }, t("ots.next"));
    const first = h("button", { type: "button", "data-action": "first" }, t("ots.first"));
    let next = null, n = 0;
    // A page of rows: the key's columns first, then every attribute column any row of it has.
    async function scan(from) {
      const r = await otsCall("GetRange", { Table: name, Next: from || undefined });
      n = from ? n + 1 : 1;
      next = r.Next || null;
      const keys = d.PrimaryKey.map((c) => c.Name);
      const attrNames = [...new Set(r.Rows.flatMap((x) => x.Columns.map((c) => c.Name)))];
      const head = h("tr", {}, [...keys, ...attrNames].map((c) => h("th", { scope: "col", text: c })));
      const body = r.Rows.length ? r.Rows.map((x) => {
        const by = Object.fromEntries([...x.PrimaryKey, ...x.Columns].map((c) => [c.Name, c]));
        return h("tr", { "data-id": JSON.stringify(x.PrimaryKey.map((c) => c.Value)) },
          [...keys, ...attrNames].map((c) => h("td", { title: by[c]?.Type, text: cellText(by[c]) })));
      }) : [h("tr", {}, h("td", { colspan: keys.length, text: t("ots.norows") }))];
      wrap.replaceChildren(h("table", {}, h("thead", {}, head), h("tbody", {}, body)));
      pageNo.dataset.page = String(n);
      pageNo.textContent = t("ots.page", n, r.Rows.length);
      more.disabled = !next;
      first.disabled = n === 1;
    }
    more.addEventListener("click", () => run(() => scan(next)));
    first.addEventListener("click", () => run(() => scan(null)));
    await scan(null);
    page(`${t("ots.table")} ${name}`, h("p", { class: "toolbar" }, h("a", { href: "#/tables" }, t("ots.title"))), info,
      h("h2", { text: t("ots.rows") }), h("div", { class: "toolbar" }, first, more, pageNo), wrap);
    ready("table");
  }

  // ---- load balancers ----
  async function pageSlbs() {
    const r = await api("DescribeLoadBalancers", { PageSize: 100 });
    const name = h("input", { name: "LoadBalancerName", required: true, autocomplete: "off" });
    const type = h("select", { name: "AddressType" }, h("option", { value: "intranet" }, t("slb.intranet")),
      h("option", { value: "internet" }, t("slb.internet")));
    const form = h("form", { class: "row card", onsubmit: async (ev) => {
      ev.preventDefault();
      const x = await run(() => api("CreateLoadBalancer", { LoadBalancerName: name.value, AddressType: type.value }));
      if (x) { await route(); say(t("done.action", `CreateLoadBalancer ${x.LoadBalancerId}`)); }
    } }, field(t("name"), name), field(t("slb.addresstype"), type), h("button", { class: "primary", type: "submit" }, t("slb.create")));
    const rows = list(r, "LoadBalancers", "LoadBalancer").map((b) => ({ ...b, __id: b.LoadBalancerId }));
    page(t("slb.title"), form, table([{ k: "id", f: (b) => h("a", { href: `#/slb/${b.LoadBalancerId}` }, b.LoadBalancerId) },
      { k: "name", f: (b) => b.LoadBalancerName }, { k: "slb.address", f: (b) => b.Address },
      { k: "slb.addresstype", opt: true, f: (b) => b.AddressType }, { k: "status", f: (b) => status(b.LoadBalancerStatus) },
      { k: "actions", f: (b) => h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${b.LoadBalancerId}`,
        onclick: async () => {
          if (!(await confirmed(t("confirm.delslb", b.LoadBalancerName || b.LoadBalancerId)))) return;
          if (await run(() => api("DeleteLoadBalancer", { LoadBalancerId: b.LoadBalancerId }))) await route();
        } }, t("delete")) }], rows, t("slb.empty")));
    ready("slbs");
  }
  async function pageSlb(id) {
    const [a, hs] = await Promise.all([api("DescribeLoadBalancerAttribute", { LoadBalancerId: id }),
      api("DescribeHealthStatus", { LoadBalancerId: id })]);
    const row = (k, v) => [h("dt", { text: t(k) }), h("dd", {}, v)];
    page(`${a.LoadBalancerName || id}`, h("div", { class: "card" }, h("dl", { class: "attrs" }, row("id", a.LoadBalancerId),
      row("name", a.LoadBalancerName), row("slb.address", a.Address), row("slb.addresstype", a.AddressType),
      row("status", status(a.LoadBalancerStatus)), row("created", a.CreateTime))),
    h("h2", { text: t("slb.listeners") }), table([{ k: "slb.port", f: (l) => l.ListenerPort },
      { k: "slb.protocol", f: (l) => l.ListenerProtocol }], list(a, "ListenerPortsAndProtocol", "ListenerPortAndProtocol"),
    t("slb.nolisteners")),
    h("h2", { text: t("slb.backends") }), table([{ k: "slb.server", f: (b) => h("a", { href: `#/instance/${b.ServerId}` }, b.ServerId) },
      { k: "slb.weight", f: (b) => b.Weight }], list(a, "BackendServers", "BackendServer"), t("slb.nobackends")),
    h("h2", { text: t("slb.health") }), table([{ k: "slb.port", f: (x) => `${x.ListenerPort}/${x.Protocol}` },
      { k: "slb.server", f: (x) => x.ServerId }, { k: "slb.backendport", f: (x) => x.Port },
      { k: "status", f: (x) => h("span", { class: `st st-${x.ServerHealthStatus}`, "data-health": x.ServerHealthStatus }, t(`health.${x.ServerHealthStatus}`)) }],
    list(hs, "BackendServers", "BackendServer"), t("slb.nohealth")));
    ready("slb");
  }

  // ---- auto-snapshot policies ----
  async function pagePolicies() {
    const r = await api("DescribeAutoSnapshotPolicyEx", { PageSize: 100 });
    const name = h("input", { name: "autoSnapshotPolicyName", required: true, autocomplete: "off" });
    const hours = h("input", { name: "timePoints", value: "2", required: true, pattern: "[0-9]{1,2}(,[0-9]{1,2})*" });
    const days = h("input", { name: "repeatWeekdays", value: "1,2,3,4,5,6,7", required: true, pattern: "[1-7](,[1-7])*" });
    const keep = h("input", { name: "retentionDays", type: "number", min: -1, max: 65536, value: 7, required: true });
    const json = (v) => JSON.stringify(v.split(",").map((x) => x.trim()));
    const form = h("form", { class: "stack card", onsubmit: async (ev) => {
      ev.preventDefault();
      const x = await run(() => api("CreateAutoSnapshotPolicy", { autoSnapshotPolicyName: name.value, timePoints: json(hours.value),
        repeatWeekdays: json(days.value), retentionDays: keep.value }));
      if (x) { await route(); say(t("done.action", `CreateAutoSnapshotPolicy ${x.AutoSnapshotPolicyId}`)); }
    } }, field(t("name"), name), field(t("pol.hours"), hours, t("pol.hourshint")), field(t("pol.days"), days, t("pol.dayshint")),
    field(t("pol.keep"), keep, t("pol.keephint")), h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("pol.create"))));
    const arr = (v) => { try { return JSON.parse(v).join(", "); } catch (e) { return String(v); } };
    const rows = list(r, "AutoSnapshotPolicies", "AutoSnapshotPolicy").map((p) => ({ ...p, __id: p.AutoSnapshotPolicyId }));
    page(t("pol.title"), table([{ k: "id", opt: true, f: (p) => h("span", { class: "mono", text: p.AutoSnapshotPolicyId }) },
      { k: "name", f: (p) => p.AutoSnapshotPolicyName }, { k: "pol.hours", f: (p) => arr(p.TimePoints) },
      { k: "pol.days", opt: true, f: (p) => arr(p.RepeatWeekdays) }, { k: "pol.keep", f: (p) => p.RetentionDays },
      { k: "pol.disks", f: (p) => p.DiskNums }, { k: "status", f: (p) => status(p.Status) },
      { k: "actions", f: (p) => h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${p.AutoSnapshotPolicyId}`,
        onclick: async () => {
          if (!(await confirmed(t("confirm.delpol", p.AutoSnapshotPolicyName)))) return;
          if (await run(() => api("DeleteAutoSnapshotPolicy", { autoSnapshotPolicyId: p.AutoSnapshotPolicyId }))) await route();
        } }, t("delete")) }], rows, t("pol.empty")), h("h2", { text: t("pol.create") }), form);
    ready("policies");
  }

  // ---- security groups ----
  async function pageSecurityGroups() {
    const r = await api("DescribeSecurityGroups", { PageSize: 50 });
    const name = h("input", { name: "SecurityGroupName", autocomplete: "off" });
    const desc = h("input", { name: "Description", autocomplete: "off" });
    const form = h("form", { class: "row card", onsubmit: async (ev) => {
      ev.preventDefault();
      const g = await run(() => api("CreateSecurityGroup", { SecurityGroupName: name.value, Description: desc.value }));
      if (g) location.hash = `#/sg/${g.SecurityGroupId}`;
    } }, field(t("name"), name), field(t("description"), desc), h("button", { class: "primary", type: "submit" }, t("sg.create")));
    page(t("sg.title"), form, table([
      { k: "id", f: (g) => h("a", { href: `#/sg/${g.SecurityGroupId}` }, g.SecurityGroupId) },
      { k: "name", f: (g) => g.SecurityGroupName }, { k: "description", opt: true, f: (g) => g.Description },
      { k: "actions", f: (g) => h("button", { type: "button", class: "danger", "aria-label": `${t("delete")} ${g.SecurityGroupId}`,
        onclick: async () => {
          if (!(await confirmed(t("confirm.delsg", g.SecurityGroupId)))) return;
          if (await run(() => api("DeleteSecurityGroup", { SecurityGroupId: g.SecurityGroupId }))) await route();
        } }, t("delete")) }], list(r, "SecurityGroups", "SecurityGroup")));
    ready("sgs");
  }
  async function pageSecurityGroup(id) {
    const r = await api("DescribeSecurityGroupAttribute", { SecurityGroupId: id, Direction: "all" });
    const sel = (name, vals) => h("select", { name }, vals.map((v) => h("option", { value: v }, v)));
    const dir = h("select", { name: "Direction" }, h("option", { value: "ingress" }, t("sg.ingress")),
      h("option", { value: "egress" }, t("sg.egress")));
    const proto = sel("IpProtocol", ["tcp", "udp", "icmp", "all"]);
    const ports = h("input", { name: "PortRange", value: "22/22", required: true });
    const cidr = h("input", { name: "Cidr", value: "0.0.0.0/0", required: true });
    const policy = sel("Policy", ["accept", "drop"]);
    const prio = h("input", { name: "Priority", type: "number", min: 1, max: 100, value: 1 });
    const form = h("form", { class: "stack card", onsubmit: async (ev) => {
      ev.preventDefault();
      const ingress = dir.value === "ingress";
      const p = { SecurityGroupId: id, IpProtocol: proto.value, PortRange: ports.value, Policy: policy.value, Priority: prio.value };
      p[ingress ? "SourceCidrIp" : "DestCidrIp"] = cidr.value;
      if (await run(() => api(ingress ? "AuthorizeSecurityGroup" : "AuthorizeSecurityGroupEgress", p))) await route();
    } }, field(t("sg.direction"), dir), field(t("sg.protocol"), proto), field(t("sg.ports"), ports),
    field(t("sg.source"), cidr), field(t("sg.policy"), policy), field(t("sg.priority"), prio),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("sg.add"))));
    const revoke = async (p) => {
      if (!(await confirmed(t("confirm.revoke")))) return;
      const ingress = p.Direction === "ingress";
      const q = { SecurityGroupId: id, IpProtocol: p.IpProtocol, PortRange: p.PortRange, Policy: p.Policy, Priority: p.Priority };
      q[ingress ? "SourceCidrIp" : "DestCidrIp"] = ingress ? p.SourceCidrIp : p.DestCidrIp;
      if (await run(() => api(ingress ? "RevokeSecurityGroup" : "RevokeSecurityGroupEgress", q))) await route();
    };
    page(`${r.SecurityGroupName || id}`, h("p", { class: "hint mono", text: id }), h("h2", { text: t("sg.rules") }),
      table([{ k: "sg.direction", f: (p) => t(`sg.${p.Direction}`) }, { k: "sg.protocol", f: (p) => p.IpProtocol },
        { k: "sg.ports", f: (p) => p.PortRange }, { k: "sg.source", f: (p) => p.SourceCidrIp || p.DestCidrIp || "" },
        { k: "sg.policy", f: (p) => p.Policy }, { k: "sg.priority", opt: true, f: (p) => p.Priority },
        { k: "actions", f: (p) => h("button", { type: "button", class: "danger", onclick: () => revoke(p) }, t("sg.revoke")) }],
      list(r, "Permissions", "Permission")), h("h2", { text: t("sg.add") }), form);
    ready("sg");
  }

  // ---- disks, snapshots, images ----
  async function pageDisks() {
    const r = await api("DescribeDisks", { PageSize: 100 });
    page(t("disk.title"), table([{ k: "id", f: (d) => h("span", { class: "mono", text: d.DiskId }) },
      { k: "name", opt: true, f: (d) => d.DiskName }, { k: "type", f: (d) => d.Type }, { k: "size", f: (d) => d.Size },
      { k: "disk.instance", f: (d) => (d.InstanceId ? h("a", { href: `#/instance/${d.InstanceId}` }, d.InstanceId) : "-") },
      { k: "status", f: (d) => status(d.Status) },
      { k: "actions", f: (d) => h("button", { type: "button", "aria-label": `${t("disk.snapshot")} ${d.DiskId}`, onclick: async () => {
        const x = await run(() => api("CreateSnapshot", { DiskId: d.DiskId }));
        if (x) say(t("done.created", x.SnapshotId));
      } }, t("disk.snapshot")) }], list(r, "Disks", "Disk")));
    ready("disks");
  }
  async function pageSnapshots() {
    const r = await api("DescribeSnapshots", { PageSize: 100 });
    page(t("snap.title"), table([{ k: "id", f: (x) => h("span", { class: "mono", text: x.SnapshotId }) },
      { k: "name", opt: true, f: (x) => x.SnapshotName }, { k: "snap.disk", f: (x) => x.SourceDiskId },
      { k: "snap.progress", opt: true, f: (x) => x.Progress }, { k: "status", f: (x) => status(x.Status) },
      { k: "actions", f: (x) => h("button", { type: "button", class: "danger", onclick: async () => {
        if (!(await confirmed(t("confirm.delsnap", x.SnapshotId)))) return;
        if (await run(() => api("DeleteSnapshot", { SnapshotId: x.SnapshotId }))) await route();
      } }, t("delete")) }], list(r, "Snapshots", "Snapshot")));
    ready("snapshots");
  }
  async function pageImages() {
    const r = await api("DescribeImages", { PageSize: 100 });
    page(t("img.title"), table([{ k: "id", f: (i) => h("span", { class: "mono", text: i.ImageId }) },
      { k: "name", f: (i) => i.ImageName }, { k: "img.os", opt: true, f: (i) => i.OSName },
      { k: "size", f: (i) => i.Size }, { k: "img.owner", f: (i) => i.ImageOwnerAlias },
      { k: "status", f: (i) => status(i.Status) }], list(r, "Images", "Image")));
    ready("images");
  }

  // ---- sign-in and routes ----
  function showSignIn(note) {
    clearInterval(poll);
    document.getElementById("nav").hidden = true;
    document.getElementById("signout").hidden = true;
    document.getElementById("who").textContent = "";
    const ak = h("input", { name: "AccessKeyId", required: true, autocomplete: "username", spellcheck: "false" });
    const secret = h("input", { name: "AccessKeySecret", type: "password", required: true, autocomplete: "current-password" });
    const form = h("form", { class: "stack card signin", onsubmit: async (ev) => {
      ev.preventDefault();
      const r = await run(() => post("/console/session/signin", { AccessKeyId: ak.value, AccessKeySecret: secret.value }));
      secret.value = "";
      if (r) { session = r; signedIn(); }
    } }, h("h1", { text: t("signin.title") }), field(t("signin.ak"), ak), field(t("signin.secret"), secret),
    h("p", { class: "hint", text: t("signin.note") }), h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("signin.submit"))));
    main.replaceChildren(form);
    if (note) say(note);
    ready("signin");
    ak.focus();
  }
  function signedIn() {
    document.getElementById("nav").hidden = false;
    document.getElementById("signout").hidden = false;
    document.getElementById("who").textContent = session.AccountName;
    if (!location.hash || location.hash === "#/") location.hash = "#/instances";
    else route();
  }
  const ROUTES = [[/^#\/instances$/, pageInstances], [/^#\/create$/, pageCreate], [/^#\/instance\/([\w-]+)$/, pageInstance],
    [/^#\/keypairs$/, pageKeyPairs], [/^#\/sgs$/, pageSecurityGroups], [/^#\/sg\/([\w-]+)$/, pageSecurityGroup],
    [/^#\/disks$/, pageDisks], [/^#\/snapshots$/, pageSnapshots], [/^#\/images$/, pageImages],
    [/^#\/vnc\/([\w-]+)$/, pageVnc], [/^#\/slbs$/, pageSlbs], [/^#\/slb\/([\w-]+)$/, pageSlb],
    [/^#\/policies$/, pagePolicies], [/^#\/buckets$/, pageBuckets],
    [/^#\/bucket\/([a-z0-9-]+)(?:\/(.*))?$/, pageBucket], [/^#\/tables$/, pageTables], [/^#\/table\/([^/]+)$/, pageTable]];
  // One page drawn at a time, the latest asked for last: a page still loading (after an action,
  // say) would otherwise draw over the one navigated to meanwhile.
  let routing = Promise.resolve(), routesAsked = 0;
  function route() {
    const n = ++routesAsked;
    routing = routing.then(() => (n === routesAsked ? drawRoute() : undefined));
    return routing;
  }
  async function drawRoute() {
    clearInterval(poll);
    if (vncConn) { const v = vncConn; vncConn = null; v.disconnect(); }
    if (!session) return;
    const hash = location.hash || "#/instances";
    delete main.dataset.ready;
    for (const a of document.querySelectorAll("#nav a"))
      if (hash.startsWith(a.getAttribute("href").replace(/s$/, ""))) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    const hit = ROUTES.map(([re, fn]) => [hash.match(re), fn]).find(([m]) => m);
    if (!hit) { location.hash = "#/instances"; return; }
    main.replaceChildren(h("p", { text: t("loading") }));
    await run(() => hit[1](...hit[0].slice(1)));
  }

  document.getElementById("lang").addEventListener("change", (ev) => {
    lang = ev.target.value;
    localStorage.setItem("ecs.lang", lang);
    translatePage();
    if (session) route(); else showSignIn();
  });
  document.getElementById("signout").addEventListener("click", async () => {
    await run(() => post("/console/session/signout"));
    session = null;
    showSignIn();
  });
  window.addEventListener("hashchange", () => { say(""); route(); });
  translatePage();
  fetch("/console/session", { credentials: "same-origin", cache: "no-store" }).then((r) => r.json()).then((j) => {
    if (j.SignedIn) { session = j; signedIn(); } else showSignIn();
  }, () => showSignIn());
})();

#!/usr/bin/python3
"""Bundle noVNC's CommonJS build (npm @novnc/novnc, lib/**.js, as console/package-lock.json
pins it) into one classic script for the console: bundle_novnc.py OUT NOVNC_DIR.

Each module becomes a function in a table keyed by its path; a small require() resolves the
relative names the modules use (they use no others, nor eval). The script defines
window.EcsRFB, noVNC's RFB class. No file is fetched at run time: the controller serves the
bundle from its binary like the console's other files."""

import json
import os
import posixpath
import sys


def main():
    out, root = sys.argv[1], sys.argv[2]
    lib = os.path.join(root, "lib")
    version = json.load(open(os.path.join(root, "package.json")))["version"]
    mods = []
    for d, _, files in os.walk(lib):
        for f in sorted(files):
            if f.endswith(".js"):
                rel = os.path.relpath(os.path.join(d, f), root).replace(os.sep, "/")
                mods.append((rel, open(os.path.join(d, f), encoding="utf-8").read()))
    mods.sort()
    parts = [f"/* noVNC {version} (MPL-2.0, https://github.com/novnc/noVNC), bundled by console/bundle_novnc.py */",
             "(function () {", '"use strict";', "var defs = {}, cache = {};"]
    for rel, src in mods:
        parts.append(f"defs[{json.dumps(rel)}] = function (module, exports, require) {{\n{src}\n}};")
    parts.append("""function resolve(from, name) {
  var base = from.split("/").slice(0, -1), segs = name.split("/");
  for (var i = 0; i < segs.length; i++) {
    if (segs[i] === "..") base.pop(); else if (segs[i] !== ".") base.push(segs[i]);
  }
  var p = base.join("/");
  return defs[p] ? p : defs[p + ".js"] ? p + ".js" : p + "/index.js";
}
function load(p) {
  if (cache[p]) return cache[p].exports;
  if (!defs[p]) throw new Error("noVNC bundle: no module " + p);
  var m = cache[p] = { exports: {} };
  defs[p].call(m.exports, m, m.exports, function (name) { return load(resolve(p, name)); });
  return m.exports;
}
window.EcsRFB = load("lib/rfb.js")["default"];
})();""")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(parts) + "\n")
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()

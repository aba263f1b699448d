#!/usr/bin/python3
"""Write the web console's files (console/*) as a C table (controller/console_assets.h) into
OUT: embed_console.py OUT FILE..."""

import hashlib
import os
import sys

TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


def main():
    out, files = sys.argv[1], sorted(sys.argv[2:])
    lines = ['#include "console_assets.h"', ""]
    table = []
    for i, path in enumerate(files):
        name = os.path.basename(path)
        data = open(path, "rb").read()
        lines.append(f"static const unsigned char a{i}[] = {{")
        for j in range(0, len(data), 20):
            lines.append("\t" + ", ".join(str(b) for b in data[j:j + 20]) + ",")
        lines.append("\t0 };")
        etag = hashlib.sha256(data).hexdigest()[:20]
        table.append(f'\t{{ "{name}", "{TYPES[os.path.splitext(name)[1]]}", "\\"{etag}\\"", a{i}, {len(data)} }},')
    lines += ["", "const struct ctl_console_asset ctl_console_assets[] = {", *table, "\t{ 0, 0, 0, 0, 0 } };",
              f"const size_t ctl_console_n_assets = {len(files)};", ""]
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(out + ".tmp", out)


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Prints the upstream/src folder of the snmalloc-sys version pinned in
# snmalloc-rs-sys/Cargo.toml, fetching it into Cargo's registry if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SNMALLOC_SYS_SRC:-}" ]; then echo "$SNMALLOC_SYS_SRC"; exit 0; fi
cargo fetch -q
cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "snmalloc-sys":
        print(os.path.join(os.path.dirname(p["manifest_path"]), "upstream", "src"))
        break
else:
    sys.exit("snmalloc-sys not found in cargo metadata")
'

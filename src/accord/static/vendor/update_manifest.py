#!/usr/bin/env python3
"""Recompute the sha256 digests in MANIFEST.json for the vendored files it lists.

Usage (from anywhere):

    python src/accord/static/vendor/update_manifest.py          # rewrite MANIFEST.json
    python src/accord/static/vendor/update_manifest.py --check  # exit 1 if it is stale

Only the files already listed in MANIFEST.json are hashed; add, rename or remove
entries (package, version, licence, path) by editing MANIFEST.json first. The
"sha256" value of a new entry may be left empty. This script reads local files
only and never downloads anything.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

VENDOR_DIR = Path(__file__).resolve().parent
MANIFEST = VENDOR_DIR / "MANIFEST.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(65536), b""):
            digest.update(chunk)
    return digest.hexdigest()


def rebuild(entries: list[dict]) -> list[dict]:
    rebuilt = []
    missing = []
    for entry in entries:
        target = VENDOR_DIR / entry["path"]
        if not target.is_file():
            missing.append(entry["path"])
            continue
        rebuilt.append(
            {
                "package": entry["package"],
                "version": entry["version"],
                "licence": entry["licence"],
                "path": entry["path"],
                "sha256": sha256_of(target),
            }
        )
    if missing:
        sys.exit("listed in MANIFEST.json but missing: " + ", ".join(missing))
    return sorted(rebuilt, key=lambda e: e["path"])


def render(entries: list[dict]) -> str:
    return json.dumps(entries, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write; exit with status 1 if MANIFEST.json is out of date",
    )
    args = parser.parse_args(argv)

    current_text = MANIFEST.read_text(encoding="utf-8")
    new_text = render(rebuild(json.loads(current_text)))

    if args.check:
        if new_text != current_text:
            sys.stderr.write("MANIFEST.json is out of date; run update_manifest.py\n")
            return 1
        return 0

    if new_text != current_text:
        MANIFEST.write_text(new_text, encoding="utf-8")
        sys.stdout.write("MANIFEST.json updated\n")
    else:
        sys.stdout.write("MANIFEST.json already up to date\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Integrity checks for the vendored front-end assets in accord/static/vendor.

Pure file-system checks: no Django settings, database or network needed.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

VENDOR_DIR = Path(__file__).resolve().parents[2] / "static" / "vendor"
MANIFEST_PATH = VENDOR_DIR / "MANIFEST.json"

# Files in the vendor dir that are not themselves vendored assets.
UNLISTED_OK = {"MANIFEST.json", "README.md", "update_manifest.py"}
KNOWN_LICENCES = {"MIT", "0BSD"}
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# url(...) in CSS, with the argument double-quoted, single-quoted or bare.
CSS_URL_RE = re.compile(
    r"""url\(\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^)\s]*))\s*\)""",
    re.IGNORECASE,
)
CSS_IMPORT_RE = re.compile(
    r"""@import\s+(?:url\(\s*)?["']?\s*(?P<target>[^"')\s;]+)""", re.IGNORECASE
)
REMOTE_PREFIXES = ("http://", "https://", "//")


def _load_manifest() -> list[dict]:
    with MANIFEST_PATH.open(encoding="utf-8") as fh:
        return json.load(fh)


MANIFEST = _load_manifest()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_unlisted_ok(path: Path) -> bool:
    rel = path.relative_to(VENDOR_DIR)
    return str(rel) in UNLISTED_OK or path.name == "LICENSE" or "__pycache__" in rel.parts


def _code_files() -> list[Path]:
    return [
        VENDOR_DIR / entry["path"] for entry in MANIFEST if entry["path"].endswith((".css", ".js"))
    ]


def test_manifest_is_a_non_empty_list_of_well_formed_entries():
    assert isinstance(MANIFEST, list)
    assert MANIFEST, "MANIFEST.json lists no files"
    paths = [entry["path"] for entry in MANIFEST]
    assert len(paths) == len(set(paths)), "duplicate paths in MANIFEST.json"
    for entry in MANIFEST:
        assert set(entry) == {"package", "version", "licence", "path", "sha256"}, entry
        assert entry["licence"] in KNOWN_LICENCES, entry
        assert SHA256_RE.match(entry["sha256"]), entry
        # Files live under "<package>@<version>/", matching the entry.
        assert entry["path"].startswith(f"{entry['package']}@{entry['version']}/"), entry
        assert not Path(entry["path"]).is_absolute(), entry
        assert ".." not in Path(entry["path"]).parts, entry


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["path"] for e in MANIFEST])
def test_listed_file_exists_and_matches_sha256(entry):
    path = VENDOR_DIR / entry["path"]
    assert path.is_file(), f"{entry['path']} is listed in MANIFEST.json but missing"
    assert _sha256(path) == entry["sha256"], (
        f"{entry['path']} does not match its sha256 in MANIFEST.json; "
        "if the change is intended, run update_manifest.py"
    )


def test_every_vendored_file_is_listed():
    listed = {entry["path"] for entry in MANIFEST}
    on_disk = {
        path.relative_to(VENDOR_DIR).as_posix()
        for path in VENDOR_DIR.rglob("*")
        if path.is_file() and not _is_unlisted_ok(path)
    }
    unlisted = sorted(on_disk - listed)
    assert not unlisted, f"files in the vendor dir missing from MANIFEST.json: {unlisted}"


def test_each_package_ships_its_licence():
    for package_dir in {entry["path"].split("/", 1)[0] for entry in MANIFEST}:
        assert (VENDOR_DIR / package_dir / "LICENSE").is_file(), package_dir


def test_expected_code_files_are_present():
    suffixes = {path.suffix for path in _code_files()}
    assert suffixes == {".css", ".js"}


@pytest.mark.parametrize("path", _code_files(), ids=lambda p: p.relative_to(VENDOR_DIR).as_posix())
def test_no_source_map_references(path):
    assert "sourceMappingURL" not in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "path",
    [p for p in _code_files() if p.suffix == ".css"],
    ids=lambda p: p.relative_to(VENDOR_DIR).as_posix(),
)
def test_css_loads_no_remote_resources(path):
    css = path.read_text(encoding="utf-8")
    remote = []
    for match in CSS_URL_RE.finditer(css):
        target = next(g for g in match.group("dq", "sq", "bare") if g is not None).strip()
        if target.lower().startswith(REMOTE_PREFIXES):
            remote.append(target)
    for match in CSS_IMPORT_RE.finditer(css):
        target = match.group("target").strip()
        if target.lower().startswith(REMOTE_PREFIXES):
            remote.append(target)
    assert not remote, f"remote loads in {path.name}: {remote}"


def test_css_url_checker_catches_remote_loads():
    """Guard against the regexes above silently matching nothing."""
    samples = [
        'a{background:url("https://cdn.example/x.png")}',
        "a{background:url('http://cdn.example/x.png')}",
        "a{background:url(//cdn.example/x.png)}",
    ]
    for sample in samples:
        match = CSS_URL_RE.search(sample)
        assert match is not None, sample
        target = next(g for g in match.group("dq", "sq", "bare") if g is not None)
        assert target.startswith(REMOTE_PREFIXES), sample
    data_uri = (
        """a{background:url("data:image/svg+xml,%3csvg xmlns='http://www.w3.org/2000/svg'")}"""
    )
    match = CSS_URL_RE.search(data_uri)
    assert match is not None
    assert match.group("dq").startswith("data:")
    assert (
        CSS_IMPORT_RE.search('@import "https://cdn.example/x.css";')
        .group("target")
        .startswith("https://")
    )

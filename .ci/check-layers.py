#!/usr/bin/env python3
"""Rejects dependency edges between workspace crates that the layering table does not allow.

The table mirrors STYLE.md section 1 (and docs/architecture.md): each crate lists the workspace
crates it may depend on (normal, build or dev dependencies alike). A crate missing from the
table is an error too, so a new crate must be placed in a layer before it lands.
"""
import json
import subprocess
import sys

ALLOWED = {
    "cairn-types": set(),
    "cairn-env": {"cairn-types"},
    "cairn-proto": set(),
    "cairn-codec": {"cairn-types"},
    "cairn-lsm": {"cairn-types", "cairn-env", "cairn-codec"},
    "cairn-mvcc": {"cairn-lsm", "cairn-codec", "cairn-types", "cairn-env"},
    # cairn-codec: the varints and bounds-checked decoder of its persisted states.
    "cairn-raft": {"cairn-types", "cairn-codec"},
    "cairn-replica": {"cairn-raft", "cairn-mvcc", "cairn-lsm", "cairn-env", "cairn-types", "cairn-codec"},
    "cairn-placement": {"cairn-types", "cairn-codec"},
    "cairn-txn": {"cairn-types", "cairn-placement", "cairn-env"},
    "cairn-sql-plan": {"cairn-types", "cairn-codec"},
    "cairn-sql-exec": {"cairn-sql-plan", "cairn-txn", "cairn-codec", "cairn-types"},
    "cairn-pgwire": {"cairn-types"},
    # Until cairn-replica exists the node does its work itself: it adapts the storage engine to
    # cairn-raft's Engine trait (cairn-raft, cairn-lsm, cairn-codec) and replicates the SQL
    # range's MVCC database (cairn-mvcc).
    "cairn-node": {"cairn-proto", "cairn-replica", "cairn-placement", "cairn-txn", "cairn-env", "cairn-types",
                   "cairn-raft", "cairn-lsm", "cairn-codec", "cairn-mvcc"},
    "cairn-client": {"cairn-proto", "cairn-types"},
    "cairn-bench": None,  # test tier: anything below the binary
    "cairn-sim": None,  # test tier
    "cairn-testkit": None,
    "cairn-check": set(),  # test tier: history checkers for chaos runs; depends on no workspace crate
    "cairn": None,  # the binary: anything
}

meta = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
)
members = {p["name"] for p in meta["packages"]}
errors = []
for pkg in meta["packages"]:
    name = pkg["name"]
    if name not in ALLOWED:
        errors.append(f"{name}: not in the layering table (.ci/check-layers.py)")
        continue
    allowed = ALLOWED[name]
    for dep in pkg["dependencies"]:
        d = dep["name"]
        if d not in members or d == name:
            continue
        if allowed is None:
            if d == "cairn":
                errors.append(f"{name} -> {d}: nothing may depend on the binary crate")
            continue
        if d not in allowed:
            errors.append(f"{name} -> {d}: edge not allowed by the layering table")
for e in errors:
    print(f"check-layers: {e}", file=sys.stderr)
sys.exit(1 if errors else 0)

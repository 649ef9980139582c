#!/usr/bin/env bash
# Installs the client libraries the driver tests use, once, into $1 (a directory under
# target/): a Python venv with psycopg 3 and SQLAlchemy 2, and node-postgres. Idempotent:
# a stamp file records what was installed.
set -euo pipefail
dest=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stamp="$dest/.installed-v1"
mkdir -p "$dest"
# Test binaries run their tests in parallel: one installs, the others wait for it.
exec 9>"$dest/.lock"
flock 9
if [ -f "$stamp" ]; then exit 0; fi
rm -rf "$dest/venv" "$dest/node"
python3 -m venv "$dest/venv"
"$dest/venv/bin/pip" install -q --disable-pip-version-check -r "$here/requirements.txt"
mkdir -p "$dest/node"
cp "$here/package.json" "$dest/node/"
(cd "$dest/node" && npm install --silent --no-audit --no-fund >/dev/null)
touch "$stamp"

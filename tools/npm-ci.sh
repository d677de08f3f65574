#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Usage: tools/npm-ci.sh SRCDIR DESTDIR
#
# Install the npm packages pinned in SRCDIR/package-lock.json into
# DESTDIR/node_modules with `npm ci` (exact versions from the lockfile,
# no install scripts), outside the source tree. Nothing happens when
# DESTDIR already holds an install of the same lockfile. The build uses
# it for the dashboard's assets (daemon/http/dashboard/), make check for
# the test tools (tests/npm/). Needs Node.js 20 or later and npm.
set -eu

src=$1
dest=$2
stamp="$dest/.installed"

if [ -f "$stamp" ] && cmp -s "$src/package-lock.json" "$stamp"; then
	exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	echo "npm-ci: node and npm are needed (tools/install-deps.sh)" >&2
	exit 1
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
	echo "npm-ci: Node.js 20 or later is needed, found $(node --version)" >&2
	exit 1
fi

count=$(grep -c '"node_modules/' "$src/package-lock.json" || true)
echo "npm-ci: installing $count pinned packages of $src into $dest"
rm -rf "$dest"
mkdir -p "$dest"
cp "$src/package.json" "$src/package-lock.json" "$dest/"
cd "$dest"
# --ignore-scripts: nothing of ours needs a package's install script.
npm ci --ignore-scripts --no-audit --no-fund --loglevel=http
cp package-lock.json .installed
echo "npm-ci: $src installed ($(du -sh node_modules | cut -f1))"

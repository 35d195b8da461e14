#!/usr/bin/env bash
# Installs the real local AT Protocol network (PLC + PDS + AppView + Ozone from npm's
# @atproto/dev-env) that the Bluesky tests start. Cached outside the repo: a second run
# with the same version does nothing. 0.3.215 is the newest release that runs on Node 20
# (0.5 and later need Node >= 22); pinned, because dev-env's API moves between releases.
set -euo pipefail
VERSION=0.3.215
DIR="${ENVOI_TEST_CACHE:-$HOME/.cache/envoi-test}/atproto"
STAMP="$DIR/.installed-$VERSION"
[ -f "$STAMP" ] && exit 0
command -v node >/dev/null && command -v npm >/dev/null || {
    echo "The Bluesky tests need Node.js >= 18.7 and npm (Debian: apt-get install nodejs npm)" >&2
    exit 1
}
echo "Installing @atproto/dev-env@$VERSION into $DIR (about 2-3 minutes, once)"
rm -rf "$DIR"
mkdir -p "$DIR"
cd "$DIR"
echo '{"name": "envoi-atproto-dev-env", "private": true}' > package.json
# better-sqlite3 cannot download its prebuilt binary here: npm compiles it with node-gyp
# against the installed Node's headers, which takes most of the time.
npm install --no-audit --no-fund --loglevel=error "@atproto/dev-env@$VERSION" >"$DIR/npm.log" 2>&1 || {
    tail -n 40 "$DIR/npm.log" >&2
    exit 1
}
# The native module must load (npm may skip install scripts it was not told to allow).
node -e "require('better-sqlite3')(':memory:').close(); require('@atproto/dev-env')" || {
    echo "@atproto/dev-env installed but does not load (better-sqlite3 not built?)" >&2
    exit 1
}
touch "$STAMP"

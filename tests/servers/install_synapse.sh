#!/usr/bin/env bash
# Install Synapse (the Matrix reference homeserver) for the `-m matrix` tests, in a venv of
# its own under the test cache, once: later runs find it and do nothing. `make test` runs it.
set -euo pipefail
SYNAPSE_VERSION="${SYNAPSE_VERSION:-1.163.2}"
CACHE="${ENVOI_TEST_CACHE:-$HOME/.cache/envoi-test}/synapse"
STAMP="$CACHE/.installed-$SYNAPSE_VERSION"
if [ -f "$STAMP" ]; then
    exit 0
fi
echo "Installing matrix-synapse $SYNAPSE_VERSION into $CACHE (once, about a minute)"
mkdir -p "$CACHE"
python3 -m venv "$CACHE/venv"
"$CACHE/venv/bin/pip" install --quiet --upgrade pip
"$CACHE/venv/bin/pip" install --quiet "matrix-synapse==$SYNAPSE_VERSION"
"$CACHE/venv/bin/python" -c "import synapse; print('synapse', synapse.__version__)"
touch "$STAMP"

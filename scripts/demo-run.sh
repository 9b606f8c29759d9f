#!/bin/bash
# make demo-run: the example project's pipeline on this machine with `boucle run`, no server.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
boucle=${BOUCLE:-$here/build/boucle}
work=${DEMO_DIR:-$here/build/demo-run}
rm -rf "$work/hello"
mkdir -p "$work"
cp -r "$here/examples/hello" "$work/hello"
cd "$work/hello"
git init -q -b main
git -c user.name=boucle-demo -c user.email=demo@boucle.invalid add -A
git -c user.name=boucle-demo -c user.email=demo@boucle.invalid commit -q -m "feat: greet people"
echo "boucle lint:"
"$boucle" lint
echo
echo "boucle run (in $work/hello):"
"$boucle" run --data "$work/data"

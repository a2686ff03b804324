#!/usr/bin/env bash
# Prints a PATH on which no browser is found: a folder (made under $1) of links to every command
# of the current PATH except Chromium and Chrome. CI runs the demo on it, to prove that a machine
# without a system browser runs the quick start (the worker then uses the bundled headless shell).
set -euo pipefail
dir="${1:?usage: path-without-browsers.sh <folder>}/bin"
mkdir -p "$dir"
IFS=: read -r -a entries <<<"$PATH"
for entry in "${entries[@]}"; do
  [ -d "$entry" ] || continue
  for file in "$entry"/*; do
    name=$(basename "$file")
    case "$name" in chromium* | chrome* | google-chrome*) continue ;; esac
    [ -x "$file" ] && [ ! -e "$dir/$name" ] && ln -s "$file" "$dir/$name"
  done
done
echo "$dir"

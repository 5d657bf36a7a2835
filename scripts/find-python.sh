#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 found on this machine (PATH first, then pyenv).
set -euo pipefail
candidates=(python3.14 python3.13 python3.12 python3 python)
if command -v pyenv >/dev/null 2>&1; then
  for v in 3.14 3.13 3.12; do
    prefix=$(pyenv prefix "$v" 2>/dev/null || true)
    [ -n "$prefix" ] && candidates+=("$prefix/bin/python")
  done
fi
for c in "${candidates[@]}"; do
  if p=$(command -v "$c" 2>/dev/null) && "$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    echo "$p"
    exit 0
  fi
done
echo "No Python 3.12+ found: install one (e.g. apt install python3.12 or pyenv install 3.12)." >&2
exit 1

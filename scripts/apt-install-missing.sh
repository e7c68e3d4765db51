#!/usr/bin/env bash
# apt-install-missing.sh LABEL PACKAGE...: installs the Debian packages that are not installed yet
# (apt-get, --no-install-recommends; sudo when not root). Shared by install-deps.sh and
# install-board-deps.sh.
set -euo pipefail
label=$1; shift
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "$label: installing ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

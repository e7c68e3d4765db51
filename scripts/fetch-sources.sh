#!/usr/bin/env bash
# Fetches the pinned third-party sources into third_party/ (ignored by git), verifying checksums.
#   MicroPython: Debian source package micropython=$MPY_DEB_VERSION (apt-get source, private apt state)
#   Mongoose:    mongoose.c/.h from the cymongoose $CYMONGOOSE_VERSION sdist on PyPI (pip download)
# Re-running is a no-op once both are in place.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/third_party"
MPY_DEB_VERSION=1.25.0+ds-1
MPY_DEB_SUITE=trixie
MPY_ORIG_SHA256=7b25be99a502f070b2de81dafc08da7051d992325d6e67daa9045a918fffdbea
MPY_DSC_SHA256=8c7c406be88a6f3bc19e694eb0bbc5841112243fdf2b5a296e000d8fdc5f3c34
CYMONGOOSE_VERSION=0.2.5
MONGOOSE_C_SHA256=651d514ee52761c26af774d74e91346bf150c915120d967ec4332a69ea1600f5
MONGOOSE_C_PATCHED_SHA256=a6c0e28572f9b193456fa734d0b65584a85a248362a266956ac1c536273660b3
MONGOOSE_H_SHA256=0ee23157099964b7ca1c7bf3e02b1b8250cbd7838a6938fed63726e720f70b0b
mkdir -p "$dest"

fetch_micropython() {
  [ -f "$dest/micropython/.fetched" ] && return 0
  local work="$dest/.apt"
  rm -rf "$work" "$dest/micropython"
  mkdir -p "$work/sources.list.d" "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
  # Take the archive URI from the system's own apt sources, so that no host is written here.
  local uri
  uri=$( { grep -rhsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/ || true; } \
        | grep -v -- '-security' | grep -iE 'debian' | head -1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//')
  [ -n "$uri" ] || { echo "fetch-sources: no Debian archive URI in /etc/apt sources" >&2; exit 1; }
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $MPY_DEB_SUITE main" > "$work/sources.list.d/micropython-src.list"
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/sources.list.d"
              -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o APT::Sandbox::User=root)
  apt-get "${opts[@]}" -qq update
  (cd "$work/src" && apt-get "${opts[@]}" -qq --download-only source "micropython=$MPY_DEB_VERSION")
  # apt-get checked the files against the signed Sources index; the pins below make the version exact,
  # and dpkg-source checks the remaining files against the pinned .dsc.
  (cd "$work/src" && printf '%s  %s\n%s  %s\n' "$MPY_ORIG_SHA256" "micropython_${MPY_DEB_VERSION%-*}.orig.tar.xz" \
      "$MPY_DSC_SHA256" "micropython_${MPY_DEB_VERSION}.dsc" | sha256sum -c --quiet -)
  (cd "$work/src" && dpkg-source --no-check -x ./*.dsc mpy >/dev/null)
  mv "$work/src/mpy" "$dest/micropython"
  (cd "$work/src" && sha256sum ./*.orig.tar.* ./*.dsc) > "$dest/micropython/.fetched"
  rm -rf "$work"
}

fetch_mongoose() {
  if [ -f "$dest/mongoose/mongoose.c" ] && [ -f "$dest/mongoose/mongoose.h" ]; then
    verify_mongoose "$MONGOOSE_C_PATCHED_SHA256" 2>/dev/null && return 0
  fi
  local tmp; tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary cymongoose -d "$tmp" "cymongoose==$CYMONGOOSE_VERSION"
  mkdir -p "$tmp/x" "$dest/mongoose"
  tar -xzf "$tmp"/cymongoose-*.tar.gz -C "$tmp/x"
  cp "$tmp"/x/cymongoose-*/thirdparty/mongoose/mongoose.c "$tmp"/x/cymongoose-*/thirdparty/mongoose/mongoose.h "$dest/mongoose/"
  rm -rf "$tmp"
  verify_mongoose "$MONGOOSE_C_SHA256"
  patch_mongoose
  verify_mongoose "$MONGOOSE_C_PATCHED_SHA256"
}

# Two fixes to the pinned mongoose.c (scripts/mongoose.patch), applied after its checksum is
# verified, the result pinned too. Its TLS (1) wrote the ECDSA signature of a handshake with
# non-minimal DER integers whenever r or s began with a zero byte, so about 1 handshake in 256
# failed against OpenSSL peers (BAD_SIGNATURE); (2) compared a certificate's IP-address entry with
# a 32-bit load from an odd address (UBSan; it faults on CPUs without misaligned loads, the
# ESP32's Xtensa cores).
patch_mongoose() {
  patch --quiet --no-backup-if-mismatch -d "$dest/mongoose" -p1 < "$here/scripts/mongoose.patch"
}

verify_mongoose() {
  (cd "$dest/mongoose" && printf '%s  mongoose.c\n%s  mongoose.h\n' "$1" "$MONGOOSE_H_SHA256" | sha256sum -c --quiet -)
}

fetch_mongoose
fetch_micropython

#!/usr/bin/env bash
# Install QEMU from Debian's bookworm-backports *next to* the system QEMU (never
# replacing it), for the test matrix: the packages are downloaded with apt-get
# against a private sources list and unpacked with dpkg -x into PREFIX, and
# PREFIX/bin/qemu-system-x86_64 is a wrapper that points QEMU at its own
# firmware. Prints the wrapper's path on success; exits 1 with a plain
# message when the backports archive cannot be reached.
#
#   tools/install_qemu_backports.sh [PREFIX]   (default /opt/corral-qemu-backports)
set -euo pipefail
prefix=${1:-/opt/corral-qemu-backports}
wrapper="$prefix/bin/qemu-system-x86_64"
if [ -x "$wrapper" ] && "$wrapper" --version >/dev/null 2>&1; then
  echo "$wrapper"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/parts" "$work/debs"
cat >"$work/parts/backports.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
apt_opts=(-q -o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/parts"
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::archives=$work/debs")
if ! apt-get "${apt_opts[@]}" update >"$work/apt.log" 2>&1; then
  echo "bookworm-backports cannot be reached (apt-get update failed): $(tail -n 1 "$work/apt.log")" >&2
  exit 1
fi
packages=(qemu-system-x86 qemu-system-data qemu-system-common seabios)
if ! (cd "$work/debs" && apt-get "${apt_opts[@]}" download -t bookworm-backports "${packages[@]}" >>"$work/apt.log" 2>&1); then
  echo "could not download ${packages[*]} from bookworm-backports: $(tail -n 1 "$work/apt.log")" >&2
  exit 1
fi
rm -rf "$prefix.new"
mkdir -p "$prefix.new/bin"
for deb in "$work"/debs/*.deb; do dpkg -x "$deb" "$prefix.new"; done
cat >"$prefix.new/bin/qemu-system-x86_64" <<WRAPPER
#!/bin/sh
# QEMU from bookworm-backports, with its own firmware (installed by corral's tools/install_qemu_backports.sh).
exec "$prefix/usr/bin/qemu-system-x86_64" -L "$prefix/usr/share/qemu" -L "$prefix/usr/share/seabios" "\$@"
WRAPPER
chmod 755 "$prefix.new/bin/qemu-system-x86_64"
rm -rf "$prefix"
mv "$prefix.new" "$prefix"
"$wrapper" --version >/dev/null
echo "$wrapper"

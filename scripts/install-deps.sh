#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, when any is missing.
# Safe to run again; a no-op on a machine that has them all.
set -euo pipefail

packages=(
    libjpeg62-turbo-dev # JPEG encode/decode (Imaging)
    libpng-dev          # PNG encode/decode (Imaging)
    libfreetype-dev     # text rendering (Imaging)
    fonts-dejavu-core   # the font the preview engine draws with
    libsqlite3-dev      # the embedded store (GRDB)
    pkg-config          # finds the three libraries above
    python3-venv        # the segmind SDK suite's virtualenv
    postgresql-15       # the cluster store's tests start throwaway servers (scripts/postgres.sh)
    postgresql-client-15 # psql, for the cluster tests' checks
)

missing=()
for package in "${packages[@]}"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

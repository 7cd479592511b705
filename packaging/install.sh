#!/usr/bin/env bash
# Install what dicom-viewer and its tests need on Debian 12+: the peers the tests talk to (DCMTK,
# Orthanc, GDCM and OpenJPH tools, genisoimage), the runtime libraries Qt needs (also offscreen)
# and CJK fonts; then a virtualenv in .venv with the package and its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  dcmtk orthanc orthanc-dicomweb libgdcm-tools genisoimage openjph-tools
  libgl1 libegl1 libglib2.0-0 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3
  libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0
  fonts-dejavu-core fonts-noto-cjk
)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  # The orthanc package starts a system service on install; tests start their own instances.
  export DEBIAN_FRONTEND=noninteractive
  sudo_if_needed apt-get update -qq
  sudo_if_needed apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e ".[test]"
echo "installed: .venv/bin/dicom-viewer" >&2

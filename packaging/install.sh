#!/usr/bin/env bash
# Install what dicom-viewer and its tests need on Debian 12+: the peers the tests talk to (DCMTK,
# Orthanc, GDCM and OpenJPH tools, genisoimage), the libraries Qt links against (also offscreen)
# and fonts (CJK included, for patient names); then .venv with the package and its test extra.
# The README's first quick-start command and the first step of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  # the peers
  dcmtk orthanc orthanc-dicomweb libgdcm-tools genisoimage openjph-tools
  # the C compiler pip uses to build the MPR's reslice kernels (viewer/volume/reslice_kernels.c)
  gcc libc6-dev
  # dciodvfy checks the derived images of mpr / save as series against their IODs
  dicom3tools
  # export-images encodes MP4/GIF with ffmpeg, run as a separate program (never bundled: Debian
  # builds it with GPL libx264); the tests check the videos with its ffprobe
  ffmpeg
  # what PySide6's Qt libraries and platform plugins link against (ldd of libqoffscreen.so,
  # libqxcb.so and libQt6{Core,Gui,Widgets,OpenGL,DBus}.so.6)
  libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libfreetype6 libglib2.0-0
  libdbus-1-3 libx11-6 libpng16-16 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0
  libxcb-xinerama0
  # VTK's offscreen 3D (EGL, or OSMesa where EGL finds no device) and a real X server for the
  # 3D view's window tests (QVTKRenderWindowInteractor needs one; offscreen Qt cannot host it)
  libegl-mesa0 libgl1-mesa-dri libosmesa6 xvfb
  fonts-dejavu-core fonts-noto-cjk
)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  # The orthanc package starts its service from its postinst. Forbid service starts while
  # installing (policy-rc.d exit 101; invoke-rc.d and deb-systemd-invoke obey it) so the install
  # neither hangs nor leaves a server on ports 4242/8042: tests start their own Orthanc.
  policy=/usr/sbin/policy-rc.d
  made_policy=0
  if [ ! -e "$policy" ]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    made_policy=1
  fi
  trap '[ "$made_policy" = 1 ] && as_root rm -f "$policy"' EXIT
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q -o Acquire::Retries=3
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Acquire::Retries=3 \
    --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv || {
    echo "cannot create .venv with $PYTHON: install python3-venv (Debian) or set PYTHON" >&2
    exit 2
  }
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
.venv/bin/python -m pip install -q --upgrade pip
# also compiles the MPR's reslice kernels (setup.py: a C compiler is needed, gcc on Debian)
.venv/bin/python -m pip install -q -e ".[test]"

# The GUI's translations: resources/i18n/*.ts compiled to viewer/gui/translations/*.qm, where
# viewer.gui.i18n looks for them (git-ignored build output; packaged as package data).
mkdir -p viewer/gui/translations
for ts in resources/i18n/*.ts; do
  [ -e "$ts" ] || continue
  .venv/bin/pyside6-lrelease -silent "$ts" -qm "viewer/gui/translations/$(basename "${ts%.ts}").qm"
done
echo "installed: .venv/bin/dicom-viewer" >&2

#!/usr/bin/env bash
# Install the edgeproof device on Raspberry Pi OS (64-bit), or lay it out in an image root.
#
#   sudo ./install.sh --wheel edgeproof-X.Y.Z-py3-none-any.whl
#   sudo ./install.sh --root /mnt/rootfs --no-apt --wheel ...   # into a mounted image
#
# What it does (docs/deploy.md explains each step):
#   1. Debian packages: Python, pcscd + CCID driver, the TPM stack, the camera stack;
#   2. the `edgeproof` system user (sysusers.d) and its folders (tmpfiles.d);
#   3. a virtual environment in /opt/edgeproof/venv with the wheel (extras edge, tpm);
#   4. the systemd unit, sysctl, coredump, limits, udev, modprobe (and polkit) files;
#   5. swap off (swap.target masked, dphys-swapfile disabled), /tmp on RAM, core dumps off;
#   6. the service enabled, not started: keygen and enrolment come first.
# Options:
#   --wheel FILE   the edgeproof wheel to install (required unless --no-python)
#   --root DIR     install into DIR instead of the running system (no live changes); with
#                  --no-python unless this machine has the device's OS and architecture
#   --no-apt       do not install Debian packages (offline; they are already there)
#   --no-python    do not create the virtual environment (layout only)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=""
wheel=""
with_apt=1
with_python=1

die() {
    echo "install.sh: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --wheel) wheel=${2:?--wheel needs a file}; shift 2 ;;
        --root) root=${2:?--root needs a folder}; shift 2 ;;
        --no-apt) with_apt=0; shift ;;
        --no-python) with_python=0; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "run as root (sudo)"
if [ -n "$root" ]; then
    [ -d "$root" ] || die "--root $root is not a folder"
    root=$(cd "$root" && pwd)
fi
if [ "$with_python" = 1 ]; then
    [ -n "$wheel" ] || die "give --wheel FILE (build it with: python3 -m pip wheel --no-deps .)"
    [ -f "$wheel" ] || die "no wheel at $wheel"
fi
live() { [ -z "$root" ]; }
systemctl_() {
    if live; then systemctl "$@"; else systemctl --root="$root" "$@"; fi
}

# 1. Debian packages ---------------------------------------------------------------------
if [ "$with_apt" = 1 ]; then
    live || die "--root needs --no-apt (install packages when building the image)"
    packages="python3 python3-venv python3-dev build-essential pkg-config
        pcscd libccid libpcsclite-dev swig
        libtss2-dev tpm-udev
        python3-libcamera python3-picamera2"
    # shellcheck disable=SC2086 # word splitting of the list is intended
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages
fi

# 2. the service user and its folders ----------------------------------------------------
install -D -m 0644 "$here/sysusers-edgeproof.conf" "$root/etc/sysusers.d/edgeproof.conf"
install -D -m 0644 "$here/tmpfiles-edgeproof.conf" "$root/etc/tmpfiles.d/edgeproof.conf"
if live; then
    systemd-sysusers /etc/sysusers.d/edgeproof.conf
    systemd-tmpfiles --create /etc/tmpfiles.d/edgeproof.conf
else
    systemd-sysusers --root="$root" "$root/etc/sysusers.d/edgeproof.conf"
    systemd-tmpfiles --create --root="$root" "$root/etc/tmpfiles.d/edgeproof.conf"
fi
if [ ! -e "$root/etc/edgeproof/site.toml" ]; then
    cat >"$root/etc/edgeproof/site.toml" <<'EOF'
# This device's site settings (see docs/deploy.md). Only [site] keys belong here.
[site]
verifier_url = ""
EOF
    chmod 0644 "$root/etc/edgeproof/site.toml"
fi

# 3. the software ------------------------------------------------------------------------
if [ "$with_python" = 1 ]; then
    venv="$root/opt/edgeproof/venv"
    # System site packages: picamera2 and libcamera come from Raspberry Pi OS, not PyPI.
    python3 -m venv --system-site-packages "$venv"
    "$venv/bin/pip" install --no-cache-dir "${wheel}[edge,tpm]"
    # The wheel also carries the test and demo rig (rig/: passport emulator, rendered camera,
    # test servers) for development installs. A device runs none of it and does not measure
    # it (edge.measure), so it is not left there (docs/deploy.md).
    rm -rf "$venv"/lib/python3*/site-packages/rig
fi
if [ -f "$here/../../docs/deploy.md" ]; then
    install -D -m 0644 "$here/../../docs/deploy.md" "$root/opt/edgeproof/docs/deploy.md"
fi

# 4. system configuration ----------------------------------------------------------------
install -D -m 0644 "$here/edgeproof-device.service" "$root/etc/systemd/system/edgeproof-device.service"
# The person's screen (Chromium kiosk): installed, enabled by hand (docs/deploy.md).
install -D -m 0644 "$here/edgeproof-kiosk.service" "$root/etc/systemd/system/edgeproof-kiosk.service"
install -D -m 0644 "$here/sysctl-edgeproof.conf" "$root/etc/sysctl.d/90-edgeproof.conf"
install -D -m 0644 "$here/coredump-edgeproof.conf" "$root/etc/systemd/coredump.conf.d/edgeproof.conf"
install -D -m 0644 "$here/limits-edgeproof.conf" "$root/etc/security/limits.d/edgeproof.conf"
install -D -m 0644 "$here/70-edgeproof.rules" "$root/etc/udev/rules.d/70-edgeproof.rules"
install -D -m 0644 "$here/modprobe-edgeproof.conf" "$root/etc/modprobe.d/edgeproof.conf"
if [ -e "$root/usr/share/polkit-1/actions/org.debian.pcsc-lite.policy" ]; then
    install -D -m 0644 "$here/polkit-edgeproof-pcscd.rules" \
        "$root/etc/polkit-1/rules.d/50-edgeproof-pcscd.rules"
fi

# 5. nothing of memory reaches disk ------------------------------------------------------
systemctl_ mask swap.target
if [ -e "$root/lib/systemd/system/dphys-swapfile.service" ] ||
    [ -e "$root/etc/init.d/dphys-swapfile" ]; then
    systemctl_ disable dphys-swapfile.service || true
    systemctl_ mask dphys-swapfile.service
fi
if [ -e "$root/usr/share/systemd/tmp.mount" ]; then
    install -D -m 0644 "$root/usr/share/systemd/tmp.mount" "$root/etc/systemd/system/tmp.mount"
    systemctl_ enable tmp.mount
fi
if live; then
    swapoff -a
    if command -v dphys-swapfile >/dev/null; then dphys-swapfile uninstall || true; fi
    sysctl --system >/dev/null
    udevadm control --reload
    udevadm trigger
    if [ -n "$(swapon --show --noheadings)" ]; then
        echo "install.sh: WARNING: swap is still on: $(swapon --show --noheadings)" >&2
    fi
fi

# 6. the service -------------------------------------------------------------------------
if live; then systemctl daemon-reload; fi
systemctl_ enable edgeproof-device.service

cat <<'EOF'
edgeproof installed. Next (docs/deploy.md):
  sudo -u edgeproof /opt/edgeproof/venv/bin/edgeproof device keygen
  sudo -u edgeproof /opt/edgeproof/venv/bin/edgeproof device enroll --verifier URL
  edit /etc/edgeproof/site.toml, then reboot (swap, /tmp and sysctl settings apply)
EOF

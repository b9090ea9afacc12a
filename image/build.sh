#!/usr/bin/env bash
# Builds a flashable SalesTag gateway image (sdcard.img + sdcard.img.sha256), as root.
#
#   image/build.sh --out DIR                  full build: Debian bookworm arm64 for a Raspberry Pi
#                                             (mmdebstrap + raspi-firmware + linux-image-arm64),
#                                             the Ansible roles applied in the chroot, model baked in
#   image/build.sh --rootfs TREE --out DIR    quick build: pack an existing tree (CI uses a small one)
#   --ca-bundle FILE   (full build) certificate authorities pip trusts inside the chroot, for a
#                      build host behind a TLS-inspecting proxy; used for the build, not kept
#
# Neither needs a loop device: the FAT partition is made with mkfs.vfat + mtools, the ext4 one
# with `mke2fs -d`, and genimage lays them out (align = 4M). The full build needs arm64
# emulation (qemu-user-static with binfmt_misc) unless it runs on an arm64 machine.
set -euo pipefail
shopt -s inherit_errexit  # a failing step inside $(full_rootfs) stops the build too
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")

ROOTFS="" OUT="" CA_BUNDLE="" ARCH=arm64 SUITE=bookworm MIRROR=${MIRROR:-http://deb.debian.org/debian}
BOOT_SIZE_MB=256 EXTRA_ROOT_MB=${EXTRA_ROOT_MB:-512}
while (($#)); do
    case "$1" in
        --rootfs) ROOTFS=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --arch) ARCH=$2; shift 2 ;;
        --ca-bundle) CA_BUNDLE=$2; shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ -n "$OUT" ]] || { echo "build.sh: --out DIR is required" >&2; exit 2; }
[[ -z "$CA_BUNDLE" || -f "$CA_BUNDLE" ]] || { echo "build.sh: no CA bundle at $CA_BUNDLE" >&2; exit 2; }
[[ $EUID -eq 0 ]] || { echo "build.sh: run as root (file ownership in the image)" >&2; exit 1; }
for tool in genimage mkfs.vfat mcopy mke2fs sha256sum; do
    command -v "$tool" >/dev/null || { echo "build.sh: $tool missing (scripts/setup --dev)" >&2; exit 1; }
done
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/salestag-image.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

full_rootfs() {
    # Debian arm64 + the Pi firmware and kernel; python3 for Ansible; what the roles install.
    local root=$WORK/rootfs
    command -v mmdebstrap >/dev/null || { echo "build.sh: mmdebstrap missing" >&2; exit 1; }
    mmdebstrap --arch="$ARCH" --variant=minbase \
        --components="main non-free-firmware" \
        --include=raspi-firmware,linux-image-arm64,systemd,systemd-sysv,systemd-timesyncd,udev,kmod,netbase,ifupdown,isc-dhcp-client,iproute2,python3,python3-apt,python3-venv,nftables,unattended-upgrades,mosquitto,libportaudio2,ca-certificates,openssh-server,sqlite3,sudo \
        "$SUITE" "$root" "$MIRROR" "deb http://security.debian.org/debian-security $SUITE-security main" >&2
    cat > "$WORK/hosts.yml" <<HOSTS
all:
  children:
    gateways:
      hosts:
        image:
          ansible_host: $root
          ansible_connection: community.general.chroot
          salestag_gateway_id: gw-unset
          salestag_provision_now: false
HOSTS
    if [[ -n "$CA_BUNDLE" ]]; then  # the build's own trust, removed before the tree is packed
        install -m 0644 "$CA_BUNDLE" "$root/run/salestag-build-ca.pem"
        echo "          salestag_pip_extra_args: --cert /run/salestag-build-ca.pem" >> "$WORK/hosts.yml"
    fi
    # The chroot's commands inherit the playbook's environment, and a host's CA and pip
    # settings name host paths that inside the chroot are the image's own files (a host's
    # REQUESTS_CA_BUNDLE even overrides pip's --cert): the playbook gets a clean one.
    (cd "$REPO/ansible" && env -i HOME="$HOME" LANG=C.UTF-8 PATH="$REPO/.venv/bin:$PATH" \
        ansible-playbook -i "$WORK/hosts.yml" site.yml >&2)
    rm -f "$root/run/salestag-build-ca.pem"
    printf 'auto eth0\nallow-hotplug eth0\niface eth0 inet dhcp\n' > "$root/etc/network/interfaces.d/eth0"
    echo salestag-gateway > "$root/etc/hostname"
    echo "$root"
}

if [[ -z "$ROOTFS" ]]; then
    ROOTFS=$(full_rootfs)
fi
ROOTFS=${ROOTFS%/}  # a trailing slash would give paths like //etc

# --- what no two appliances may share, and what first boot makes ---
: > "$ROOTFS/etc/machine-id" 2>/dev/null || true
rm -f "$ROOTFS"/etc/ssh/ssh_host_*
if [[ -d "$ROOTFS/etc/credstore/salestag" ]] && [[ -n "$(ls -A "$ROOTFS/etc/credstore/salestag")" ]]; then
    echo "build.sh: $ROOTFS/etc/credstore/salestag holds keys; an image must not" >&2
    exit 1
fi
if [[ ! -L "$ROOTFS/etc/systemd/system/multi-user.target.wants/salestag-firstboot.service" ]]; then
    echo "build.sh: salestag-firstboot.service is not enabled in $ROOTFS" >&2
    exit 1
fi

# --- the models the gateway loads at start (ansible's model role put them there), each intact ---
python3 - "$ROOTFS/var/lib/salestag/models" <<'CHECK' || exit 1
import hashlib, json, sys
from pathlib import Path

models = Path(sys.argv[1])
def intact(path: Path, pin: str) -> bool:
    return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == pin
try:
    speech = json.loads((models / "manifest.json").read_text())["models"]
    text = json.loads((models / "text-models.json").read_text())["models"]
except (OSError, ValueError, KeyError) as exc:
    sys.exit(f"build.sh: {models} lacks a model manifest ({exc}); ansible/site.yml installs "
             "the speech model and the semantic tagger's text model")
files = [(models / m["file"], m["sha256"]) for m in speech]
files += [(models / name / file, pin) for name, pins in text.items() for file, pin in pins.items()]
bad = [str(path) for path, pin in files if not intact(path, pin)]
if not speech or not text or bad:
    sys.exit(f"build.sh: models missing or not matching their pinned sha256 in {models}: "
             f"{', '.join(bad) or 'none listed'}; run ansible/site.yml on the tree again")
CHECK

# --- boot partition: the Pi firmware's folder, plus our cmdline.txt and config.txt ---
BOOT=$WORK/boot
mkdir -p "$BOOT"
if [[ -d "$ROOTFS/boot/firmware" ]]; then
    cp -a "$ROOTFS/boot/firmware/." "$BOOT/"
    find "$ROOTFS/boot/firmware" -mindepth 1 -delete
fi
echo "console=serial0,115200 console=tty1 root=LABEL=SALESTAG rootfstype=ext4 fsck.repair=yes rootwait" > "$BOOT/cmdline.txt"
[[ -f "$BOOT/config.txt" ]] || printf '[all]\narm_64bit=1\nenable_uart=1\n' > "$BOOT/config.txt"
mkdir -p "$ROOTFS/boot/firmware"
cat > "$ROOTFS/etc/fstab" <<'FSTAB'
LABEL=SALESTAG  /               ext4  defaults,noatime  0 1
LABEL=RASPIFIRM /boot/firmware  vfat  defaults,umask=0077  0 2
FSTAB

IN=$WORK/input
mkdir -p "$IN" "$WORK/genroot" "$WORK/gentmp"
rm -f "$IN/boot.vfat"
mkfs.vfat -C -n RASPIFIRM "$IN/boot.vfat" $((BOOT_SIZE_MB * 1024)) >/dev/null
mcopy -s -i "$IN/boot.vfat" "$BOOT"/* ::/

# --- root partition: ext4 from the tree, with room to grow ---
used_kb=$(du -sk "$ROOTFS" | cut -f1)
root_mb=$(( used_kb / 1024 * 13 / 10 + EXTRA_ROOT_MB ))
mke2fs -q -t ext4 -L SALESTAG -d "$ROOTFS" -E root_owner=0:0 "$IN/root.ext4" "${root_mb}M"

genimage --config "$HERE/genimage.cfg" --inputpath "$IN" --outputpath "$OUT" \
    --rootpath "$WORK/genroot" --tmppath "$WORK/gentmp" >/dev/null
(cd "$OUT" && sha256sum sdcard.img > sdcard.img.sha256)
echo "$OUT/sdcard.img ($(du -h "$OUT/sdcard.img" | cut -f1), sha256 in sdcard.img.sha256)"

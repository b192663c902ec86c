#!/usr/bin/env bash
# Build the test guest images from Debian packages only (no downloads besides apt), on demand.
# Nothing built here is ever committed.
#
#   scripts/build-test-images.sh [OUTDIR]      (default: .tmp/images)
#
# Produces in OUTDIR:
#   vmlinuz      the Debian cloud kernel (an AKI)
#   initrd       a gzip'd cpio initramfs (an ARI): busybox-static + virtio modules + /init, which
#                mounts proc/sys/dev, prints "monostack test guest booted" on the console (ttyS0),
#                brings eth0 up with DHCP (udhcpc), fetches the OpenStack metadata if reachable,
#                mounts a root disk if one is attached, then keeps a shell on the console
#   disk.qcow2   a disk that boots by itself (MBR + syslinux on a FAT partition holding both)
#   machine.img  a raw ext2 root filesystem (an AMI) for direct kernel boot with vmlinuz + initrd
#   SHA256SUMS   checksums of the above
#
# Needs: linux-image-cloud-amd64 busybox-static qemu-utils cpio syslinux syslinux-common mtools
# dosfstools e2fsprogs fdisk kmod (installed with apt-get when missing, which needs root).
# No loop devices, no mounts: the FAT partition is written with mtools, ext2 with mke2fs -d.
set -euo pipefail

OUT=${1:-.tmp/images}
MARKER="monostack test guest booted"

log() { printf 'build-test-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- packages -------------------------------------------------------------------------------
need_pkgs=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in busybox-static qemu-utils cpio syslinux syslinux-common mtools dosfstools e2fsprogs fdisk gzip kmod; do
  have_pkg "$p" || need_pkgs+=("$p")
done
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || need_pkgs+=(linux-image-cloud-amd64)
if ((${#need_pkgs[@]})); then
  [ "$(id -u)" = 0 ] || die "missing packages (${need_pkgs[*]}) and not root: apt-get install them first"
  log "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need_pkgs[@]}" >/dev/null
  fi
fi

KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -n 1)
KVER=${KERNEL#/boot/vmlinuz-}
MODDIR=/lib/modules/$KVER
[ -d "$MODDIR" ] || die "no modules for $KVER in $MODDIR"
BUSYBOX=/bin/busybox
"$BUSYBOX" --list | grep -qx udhcpc || die "$BUSYBOX has no udhcpc"
MBR_BIN=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR_BIN" ] || die "no $MBR_BIN (syslinux-common)"

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/monostack-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
log "kernel $KVER -> $OUT"

# --- (a) vmlinuz (AKI) ----------------------------------------------------------------------
cp "$KERNEL" "$OUT/vmlinuz"

# --- (b) initrd (ARI) -----------------------------------------------------------------------
ROOT=$WORK/initramfs
mkdir -p "$ROOT"/{bin,sbin,etc,proc,sys,dev,tmp,run,mnt/root,root,lib/modules,usr/bin,usr/sbin,etc/udhcpc}
cp "$BUSYBOX" "$ROOT/bin/busybox"

# Modules for virtio devices, in dependency order (modprobe resolves it; built-ins are skipped), and
# the ACPI power button with evdev, so that the guest shuts down cleanly when asked (busybox acpid).
MODULES="virtio_pci virtio_net virtio_blk virtio_scsi sd_mod virtio_console virtio-rng virtio_balloon button evdev"
: > "$ROOT/lib/modules/load-order"
for m in $MODULES; do
  modprobe --show-depends -S "$KVER" "$m" 2>/dev/null | awk '$1 == "insmod" { print $2 }'
done | awk '!seen[$0]++' | while read -r ko; do
  name=$(basename "$ko")
  case "$name" in
    *.ko) cp "$ko" "$ROOT/lib/modules/$name" ;;
    *.ko.xz) xz -dc "$ko" > "$ROOT/lib/modules/${name%.xz}"; name=${name%.xz} ;;
    *.ko.zst) zstd -qdc "$ko" > "$ROOT/lib/modules/${name%.zst}"; name=${name%.zst} ;;
    *.ko.gz) gzip -dc "$ko" > "$ROOT/lib/modules/${name%.gz}"; name=${name%.gz} ;;
  esac
  echo "$name" >> "$ROOT/lib/modules/load-order"
done
[ -s "$ROOT/lib/modules/load-order" ] || die "no virtio modules found for $KVER"

cat > "$ROOT/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: configure the lease with busybox ip.
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip -4 addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    echo "$ip/${mask:-24}" > "/run/dhcp-$interface"
    # Classless static routes (option 121: "dest/len gw ..."; the metadata route among them) win
    # over the router option, as RFC 3442 says and cloud images do.
    if [ -n "$staticroutes" ]; then
      set -- $staticroutes
      while [ $# -ge 2 ]; do
        if [ "$1" = 0.0.0.0/0 ]; then ip route add default via "$2" dev "$interface"; else ip route add "$1" via "$2" dev "$interface"; fi
        shift 2
      done
    elif [ -n "$router" ]; then
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    : > /etc/resolv.conf
    for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    ;;
esac
exit 0
EOF
chmod 755 "$ROOT/etc/udhcpc/default.script"

cat > "$ROOT/init" <<EOF
#!/bin/busybox sh
# monostack test guest init (initramfs). Built by scripts/build-test-images.sh.
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
hostname monostack-guest
while read -r m; do insmod "/lib/modules/\$m" 2>/dev/null; done < /lib/modules/load-order

say() { echo "\$*" > /dev/console; case " \$(cat /proc/cmdline) " in *" console=ttyS0"*) ;; *) [ -c /dev/ttyS0 ] && echo "\$*" > /dev/ttyS0 ;; esac; }
say "$MARKER (kernel \$(uname -r), up \$(cut -d' ' -f1 /proc/uptime)s)"

# A clean shutdown on the ACPI power button (what a hypervisor's "shut down" sends): busybox acpid
# runs /etc/acpi/PWRF/00000080 for it.
acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid 2>/dev/null

ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  if udhcpc -i eth0 -s /etc/udhcpc/default.script -O staticroutes -O mtu -t 4 -T 2 -n -q -f >/dev/null 2>&1; then
    say "monostack guest network: eth0 \$(cat /run/dhcp-eth0 2>/dev/null)"
    if md=\$(timeout 10 wget -q -O - http://169.254.169.254/openstack/latest/meta_data.json 2>/dev/null); then
      echo "\$md" > /run/meta_data.json
      say "monostack guest metadata: \$md"
    else
      say "monostack guest metadata: unreachable"
    fi
  else
    say "monostack guest network: eth0 got no DHCP lease"
  fi
else
  say "monostack guest network: no eth0"
fi

# A root disk (the AMI, or any attached disk): mount it read-only and show its release file.
for dev in /dev/vda /dev/sda /dev/vdb; do
  [ -b "\$dev" ] || continue
  if mount -o ro "\$dev" /mnt/root 2>/dev/null; then
    if [ -f /mnt/root/etc/monostack-release ]; then
      say "monostack guest root: \$dev \$(cat /mnt/root/etc/monostack-release)"
    else
      say "monostack guest root: \$dev mounted"
    fi
    break
  fi
done
say "monostack guest ready"

# Stay up with a shell on the console; respawn it if it exits.
while true; do
  setsid cttyhack sh -l
  sleep 1
done
EOF
chmod 755 "$ROOT/init"
mkdir -p "$ROOT/etc/acpi/PWRF"
printf '#!/bin/sh\necho "monostack guest: ACPI power button, powering off" > /dev/console\nsync\npoweroff -f\n' > "$ROOT/etc/acpi/PWRF/00000080"
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"
echo "monostack test guest" > "$ROOT/etc/issue"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\n' > "$ROOT/etc/group"
printf 'export PS1="monostack-guest# "\n' > "$ROOT/etc/profile"
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet) | gzip -9n > "$OUT/initrd"

# --- (c) disk.qcow2: MBR + syslinux + FAT partition, boots by itself ------------------------
KSIZE=$(stat -c %s "$OUT/vmlinuz")
ISIZE=$(stat -c %s "$OUT/initrd")
PART_MIB=$(( (KSIZE + ISIZE) / 1048576 + 4 ))
PART_SECTORS=$(( PART_MIB * 2048 ))
DISK_MIB=$(( PART_MIB + 1 ))
PART=$WORK/part.img
DISK=$WORK/disk.raw
mkfs.fat -C -h 2048 -n MONOSTACK "$PART" $(( PART_MIB * 1024 )) >/dev/null
syslinux --install "$PART"
cat > "$WORK/syslinux.cfg" <<'EOF'
SERIAL 0 115200
DEFAULT monostack
PROMPT 0
TIMEOUT 0
LABEL monostack
  LINUX /vmlinuz
  INITRD /initrd
  APPEND console=tty0 console=ttyS0,115200 panic=-1 quiet loglevel=3
EOF
export MTOOLS_SKIP_CHECK=1
mcopy -o -i "$PART" "$OUT/vmlinuz" ::/vmlinuz
mcopy -o -i "$PART" "$OUT/initrd" ::/initrd
mcopy -o -i "$PART" "$WORK/syslinux.cfg" ::/syslinux.cfg
truncate -s "${DISK_MIB}M" "$DISK"
printf 'label: dos\nstart=2048, size=%d, type=e, bootable\n' "$PART_SECTORS" | sfdisk --quiet --no-reread --no-tell-kernel "$DISK" >/dev/null
dd if="$MBR_BIN" of="$DISK" bs=440 count=1 conv=notrunc status=none
dd if="$PART" of="$DISK" bs=1M seek=1 conv=notrunc,sparse status=none
qemu-img convert -q -f raw -O qcow2 "$DISK" "$OUT/disk.qcow2"

# --- (d) machine.img (AMI): a raw ext2 root filesystem -----------------------------------------
MROOT=$WORK/machine
mkdir -p "$MROOT"/{etc,bin,sbin,dev,proc,sys,tmp,root}
cp "$BUSYBOX" "$MROOT/bin/busybox"
cp "$ROOT/init" "$MROOT/sbin/init"
echo "monostack test machine image (AMI), kernel $KVER" > "$MROOT/etc/monostack-release"
cp "$ROOT/etc/passwd" "$ROOT/etc/group" "$ROOT/etc/profile" "$MROOT/etc/"
rm -f "$OUT/machine.img"
mke2fs -q -F -t ext2 -L monostack-ami -d "$MROOT" "$OUT/machine.img" 8M >/dev/null

(cd "$OUT" && sha256sum vmlinuz initrd disk.qcow2 machine.img > SHA256SUMS)
log "built: $(cd "$OUT" && ls -l vmlinuz initrd disk.qcow2 machine.img | awk '{printf "%s=%s ", $9, $5}')"

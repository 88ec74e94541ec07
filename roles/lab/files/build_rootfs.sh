#!/bin/sh
# Build the lab machines' root filesystem once: build_rootfs.sh TARGET SUITE MIRROR PACKAGE,PACKAGE,...
# debootstrap works in TARGET.partial, which becomes TARGET only when the tree is complete, so an
# interrupted build leaves no tree that looks finished (the next run starts it again).
set -eu
target=$1 suite=$2 mirror=$3 packages=$4
partial="$target.partial"

rm -rf "$partial"
mkdir -p "$(dirname "$target")"
echo "lab: debootstrap $suite from $mirror into $partial"
debootstrap --variant=minbase --include="$packages" "$suite" "$partial" "$mirror"

# Each machine gets its own identity when it is made from this tree: no machine id, no SSH host keys here.
: > "$partial/etc/machine-id"
rm -f "$partial"/etc/ssh/ssh_host_*
# The machines are configured by files (systemd-networkd) and reached over SSH.
chroot "$partial" systemctl enable systemd-networkd.service ssh.service
# Packages installed for one role (Prometheus for the addons) start only where that role runs them.
for unit in prometheus.service prometheus-node-exporter.service; do
    if [ -e "$partial/lib/systemd/system/$unit" ]; then
        chroot "$partial" systemctl disable "$unit"
    fi
done
rm -f "$partial"/var/cache/apt/archives/*.deb
mv "$partial" "$target"
echo "lab: root filesystem ready in $target"

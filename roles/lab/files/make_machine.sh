#!/bin/sh
# Make one lab machine's tree from the cached root filesystem: make_machine.sh ROOTFS TREE
# The copy is made in TREE.partial and renamed when complete; the machine gets its own machine id and SSH
# host keys. The files that depend on the inventory (hostname, address, keys) are written by the role.
set -eu
rootfs=$1 tree=$2
partial="$tree.partial"

rm -rf "$partial"
mkdir -p "$(dirname "$tree")"
cp -a --reflink=auto "$rootfs" "$partial"
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$partial/etc/machine-id"
echo >> "$partial/etc/machine-id"
ssh-keygen -q -A -f "$partial"
mv "$partial" "$tree"
echo "lab: made $tree"

#!/usr/bin/env bash
# scripts/test-in-chroot.sh: scripts/test.sh on another PostgreSQL major
# version, in a Debian release that ships it.
#
# Run as root:   bash scripts/test-in-chroot.sh [RELEASE MAJOR]   (trixie 17)
#
# Debian 12 has only PostgreSQL 15.  This builds a minimal root of the
# Debian release RELEASE with debootstrap (kept in /var/tmp/jobchunk-RELEASE
# for the next run, and brought up to date each time; one run at a time),
# copies the tree into it, and runs scripts/test.sh there
# with PG_MAJOR=MAJOR: the same build with warnings as errors, lint and
# suites, against that release's PostgreSQL packages.  Its package installs
# start no services (policy-rc.d), and the chroot shares this machine's
# network, as the test cluster (a Unix socket only) and the TAP tests (free
# ports) allow.  Exits as scripts/test.sh does.
#
# DEBIAN_MIRROR (http://deb.debian.org/debian) is where the packages come
# from; the release's security updates come from its -security suite at
# DEBIAN_SECURITY (http://deb.debian.org/debian-security), or from nowhere
# with DEBIAN_SECURITY=none (for a mirror whose index names files it does
# not have: seen for bullseye's postgresql-13).

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

RELEASE=${1:-trixie}
MAJOR=${2:-17}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
ROOT=/var/tmp/jobchunk-$RELEASE

# one run at a time in a root
exec 9>"$ROOT.lock"
flock -n 9 || { echo "$ROOT is in use by another run" >&2; exit 1; }

install_packages debootstrap
# A run killed before its clean-up may have left file systems mounted in the
# root (so may debootstrap): unmount them, deepest first, before anything
# is deleted there; and delete with --one-file-system all the same.
awk -v root="$ROOT/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r |
	while read -r mnt; do umount -l "$mnt"; done
# debootstrap removes $ROOT/debootstrap last, when it has succeeded
if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ -e "$ROOT/debootstrap" ]; then
	echo "== debootstrap $RELEASE into $ROOT"
	rm -rf --one-file-system "$ROOT"
	debootstrap --variant=minbase "$RELEASE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 ||
		{ tail -n 20 "$ROOT.log"; exit 1; }
fi
rm -f "$ROOT"/etc/apt/sources.list
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $RELEASE $RELEASE-updates
Components: main
EOF
if [ "$SECURITY" != none ]; then
	cat >>"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF

Types: deb
URIs: $SECURITY
Suites: $RELEASE-security
Components: main
EOF
fi
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

mounted=()
unmount_all() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" || true; done
}
trap unmount_all EXIT
# mount_in [OPTIONS...] SOURCE TARGET: mount at TARGET inside the root
mount_in() {
	local target=$ROOT${*: -1}
	mount "${@:1:$#-1}" "$target"
	mounted+=("$target")
}
mount_in -t proc proc /proc
mount_in --bind /sys /sys
mount_in --bind /dev /dev
mount_in --bind /dev/pts /dev/pts
mount_in -t tmpfs -o mode=1777 shm /dev/shm

# run COMMAND... in the root, as root, with a clean environment
in_root() {
	chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 "$@"
}

# a kept root gets the release's updates, as a new one would have them
echo "== updating the $RELEASE root"
in_root DEBIAN_FRONTEND=noninteractive \
	sh -c 'apt-get update -qq && apt-get -y -qq -o Dpkg::Options::=--force-confold upgrade >/dev/null'

rm -rf --one-file-system "$ROOT/jobchunk"
mkdir "$ROOT/jobchunk"
tar -C "$SRC_DIR" --exclude=.git -cf - . | tar -C "$ROOT/jobchunk" -xf -

echo "== scripts/test.sh on PostgreSQL $MAJOR, Debian $RELEASE"
in_root PG_MAJOR="$MAJOR" bash /jobchunk/scripts/test.sh

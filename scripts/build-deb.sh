#!/usr/bin/env bash
# Builds the Debian package target/debian/snmalloc-rs_VERSION_ARCH.deb:
#   /usr/lib/<multiarch>/libsnmalloc_rs.so.0 (+ .so link, .a, profile library,
#   the hardened build libsnmalloc_rs-check.so, the musl build
#   libsnmalloc_rs-musl.so)
#   /usr/bin/snmalloc-run, /usr/include/snmalloc_rs.h,
#   /usr/lib/<multiarch>/pkgconfig/snmalloc_rs.pc
# The files are staged by scripts/install.sh (one list of what is
# installed, for both), linked against glibc 2.28's symbol versions
# (install.sh --glibc; SNMALLOC_RS_DEB_GLIBC overrides) so that the package
# installs on Debian 11, Ubuntu 20.04 and later, then packed by dpkg-deb,
# which every Debian system has. Inspect: dpkg-deb -c target/debian/*.deb; install: sudo apt install
# ./target/debian/snmalloc-rs_*.deb.
#   scripts/build-deb.sh [--no-build]
# Prints the path of the package. Exit status: 0 built, 1 a step failed.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo "$(uname -m)-linux-gnu")
version=$(cargo pkgid -p snmalloc-rs-preload | sed 's/.*[#@]//')
root=target/debian/root
rm -rf "$root"
mkdir -p "$root/DEBIAN"
DESTDIR=$PWD/$root scripts/install.sh --prefix /usr --libdir "/usr/lib/$multiarch" \
  --glibc "${SNMALLOC_RS_DEB_GLIBC:-2.28}" --musl "$@" >&2

# The oldest glibc the library and the launcher can load on: the highest
# symbol version they import.
glibc=$(objdump -T "$root/usr/lib/$multiarch/libsnmalloc_rs.so.0" "$root/usr/bin/snmalloc-run" |
  grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
depends="libc6 (>= $glibc)"
if readelf -d "$root/usr/lib/$multiarch/libsnmalloc_rs.so.0" "$root/usr/bin/snmalloc-run" |
  grep -q 'NEEDED.*libgcc_s'; then
  depends="$depends, libgcc-s1"
fi
install -D -m 644 LICENSE "$root/usr/share/doc/snmalloc-rs/copyright"
cat >"$root/DEBIAN/control" <<EOF
Package: snmalloc-rs
Version: $version-1
Architecture: $arch
Maintainer: The snmalloc-rs developers <snmalloc-rs@users.noreply.github.com>
Depends: $depends
Section: libs
Priority: optional
Description: snmalloc as the allocator of any program (LD_PRELOAD)
 libsnmalloc_rs.so.0 replaces malloc, free and C++ new/delete with
 Microsoft's snmalloc in any dynamically linked program, loaded by
 LD_PRELOAD or by the launcher snmalloc-run; libsnmalloc_rs.a, the header
 snmalloc_rs.h and snmalloc_rs.pc let C and C++ programs link it.
EOF
echo "libsnmalloc_rs 0 snmalloc-rs (>= $version)" >"$root/DEBIAN/shlibs"
# Checksums of every file, for dpkg --verify (the library docs/deployment.md
# says to preload machine-wide must be checkable).
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | sort |
  xargs md5sum) >"$root/DEBIAN/md5sums"
echo "activate-noawait ldconfig" >"$root/DEBIAN/triggers"
out=target/debian/snmalloc-rs_${version}-1_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$out" >&2
echo "$out"

# Sourced by the scripts that install what they need: one way to install
# Debian packages, rustup toolchains and targets, and tools under
# target/tools. Each install runs under a lock (flock, target/tools/locks),
# so that scripts and tests that need the same thing at the same moment
# wait for one another instead of racing (a test once ran zig while another
# was still writing it).
# shellcheck shell=bash

install_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# locked NAME CMD...: runs CMD (a command or a shell function) holding the
# lock NAME.
locked() {
  local name=$1
  shift
  mkdir -p "$install_root/target/tools/locks"
  (
    flock 9
    "$@"
  ) 9>"$install_root/target/tools/locks/$name.lock"
}

# is_installed PKG: the Debian package is installed.
is_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# apt_install PKG...: installs those of the Debian packages that are not
# (sudo when not root). Fails if apt-get does.
apt_install() {
  local missing=() p
  for p in "$@"; do is_installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -gt 0 ] || return 0
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "==> apt-get install ${missing[*]}" >&2
  locked apt "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive sh -c '
    apt-get -o DPkg::Lock::Timeout=600 update -qq &&
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$@" >/dev/null' sh "${missing[@]}"
}

# rustup_target TRIPLE: adds the target to the toolchain in use, if rustup
# manages it; fails if it cannot.
rustup_target() {
  command -v rustup >/dev/null || return 0
  rustup target list --installed | grep -qx "$1" && return 0
  echo "==> rustup target add $1" >&2
  locked rustup rustup target add "$1" >&2
}

# rustup_toolchain VERSION: installs that toolchain (minimal profile).
rustup_toolchain() {
  rustup toolchain list | grep -q "^$1-" && return 0
  echo "==> rustup toolchain install $1" >&2
  locked rustup rustup toolchain install "$1" --profile minimal >&2
}

# debian_rust: Debian's Rust 1.96 with its standard library's source, for
# -Zbuild-std (targets rustup cannot fetch here).
debian_rust() {
  apt_install rustc-web cargo-web rust-web-src
}

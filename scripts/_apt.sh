# Sourced by scripts/install_browser.sh and scripts/install_sandbox.sh (not run on its own).
# apt_install TAG PACKAGE...: install Debian packages with apt-get, as root or through sudo; fails,
# naming the packages to install by hand, where neither apt-get nor the rights are there.
apt_install() {
  local tag=$1 sudo=""
  shift
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "[$tag] need root or sudo to install $*" >&2; return 1; }
    sudo="sudo"
  fi
  command -v apt-get >/dev/null || { echo "[$tag] no apt-get: install $* by hand" >&2; return 1; }
  echo "[$tag] installing Debian packages $*"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

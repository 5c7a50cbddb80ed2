#!/usr/bin/env bash
# Installs the Debian packages tidegate needs, by group, and does nothing when they are present.
#   scripts/deps.sh build        compilers, CMake, libraries the build links, Node.js and npm
#   scripts/deps.sh test         build + the servers, tools and browser (chromium) tests start
#   scripts/deps.sh bench        build + peers measured side by side (Guava, R, nginx, wrk)
# Several groups may be given. Needs root (or sudo) only when something is missing.
set -euo pipefail

build_pkgs=(build-essential cmake ninja-build clang libclang-rt-14-dev pkg-config
  libabsl-dev libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev libcurl4-openssl-dev nlohmann-json3-dev libyaml-cpp-dev libeigen3-dev
  libnlopt-cxx-dev libcli11-dev libfmt-dev prometheus-cpp-dev
  libgrpc++-dev protobuf-compiler-grpc protobuf-compiler libprotobuf-dev
  libboost-dev libboost-system-dev libssl-dev zlib1g-dev libtorch-dev)
# chromium: the dashboard's browser tests
test_pkgs=(curl prometheus influxdb prometheus-alertmanager openssl chromium)
bench_pkgs=(default-jdk-headless libguava-java r-cran-forecast r-cran-prophet wrk nginx-light)

want=()
for group in "${@:-build}"; do
  case "$group" in
    build) want+=("${build_pkgs[@]}") ;;
    test) want+=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
    bench) want+=("${build_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "deps.sh: unknown group '$group' (build, test, bench)" >&2; exit 2 ;;
  esac
done

# The dashboard (web/) is built with Node.js and npm. A Node.js that ships its own npm (e.g.
# NodeSource's nodejs package) is as good as Debian's nodejs + npm, so look for the commands.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  want+=(nodejs npm)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "deps.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# tickwheel setup: brings a fresh Debian/Ubuntu machine that has only node/npm up to what `bun start`
# and `bun test` need — Bun, redis-server (+ redis-cli), setpriv, node_modules, and optionally
# Debian chromium for the browser tests. Every step checks first and does nothing when already
# satisfied, so running it on every start/test costs a few milliseconds.
#
# Two ways to use it:
#   bash scripts/setup.sh [--chromium]     run it; prints how to put Bun on PATH if it had to
#                                          install Bun somewhere that is not on PATH
#   source scripts/setup.sh                what scripts/start.sh and scripts/test.sh do: the steps run
#                                          in a child bash (so `set -e` never closes the caller's
#                                          shell), then this shell's PATH gains Bun's directory
# Environment:
#   TICKWHEEL_SETUP_CHROMIUM=1             also install Debian `chromium` (browser tests)
#   TICKWHEEL_SETUP_TEST_TOOLS=1           also install python3-celery, python3-redis, python3-pip, faketime,
#                                          prometheus (promtool) and openssl, which the test suite uses
#   TICKWHEEL_TOOLS_DIR                    where Bun goes when npm's global prefix is not writable
#                                          (default: $HOME/.tickwheel-tools)

# --- shared by both modes: find a Bun that npm installed off PATH, and put its directory on PATH ---

tickwheel_setup_tools_dir() {
  printf '%s\n' "${TICKWHEEL_TOOLS_DIR:-${HOME:-/tmp}/.tickwheel-tools}"
}

# Prints the directory holding a bun that is not on PATH yet (empty when none is found).
tickwheel_setup_find_bun_dir() {
  local candidate npm_prefix=""
  if command -v npm >/dev/null 2>&1; then
    npm_prefix="$(npm prefix -g 2>/dev/null || true)"
  fi
  for candidate in "$(tickwheel_setup_tools_dir)/node_modules/.bin" ${npm_prefix:+"$npm_prefix/bin"}; do
    if [[ -x "$candidate/bun" ]]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 0
}

tickwheel_setup_path_add_bun() {
  local bun_dir
  if command -v bun >/dev/null 2>&1; then
    return 0
  fi
  bun_dir="$(tickwheel_setup_find_bun_dir)"
  if [[ -n "$bun_dir" ]]; then
    export PATH="$bun_dir:$PATH"
  fi
}

if [[ "${BASH_SOURCE[0]}" != "${0}" ]]; then
  # Sourced. Run the steps in a separate bash process: `set -e` inside a sourced file would end an
  # interactive caller's shell, and a caller's `if source …` would silently disable it. No "$@" is
  # passed: a sourced file sees the caller's own arguments (e.g. test filters), not ours.
  if ! bash "${BASH_SOURCE[0]}" --sourced; then
    echo "tickwheel setup: FAILED (see the messages above)" >&2
    return 1
  fi
  tickwheel_setup_path_add_bun
  return 0
fi

# --- executed: the steps themselves ---

set -euo pipefail

say() { printf 'tickwheel setup: %s\n' "$*"; }
die() {
  printf 'tickwheel setup: error: %s\n' "$*" >&2
  exit 1
}

sourced_mode=0
want_chromium="${TICKWHEEL_SETUP_CHROMIUM:-0}"
for arg in "$@"; do
  case "$arg" in
    --sourced) sourced_mode=1 ;;
    --chromium) want_chromium=1 ;;
    -h | --help)
      sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown argument '$arg' (expected --chromium or --help)" ;;
  esac
done

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Root runs apt-get directly; anyone else needs sudo (asked only when something must be installed).
sudo_cmd=()
if [[ "$(id -u)" -ne 0 ]]; then
  sudo_cmd=(sudo)
fi

apt_updated=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* with your system's package manager, then run this again"
  if [[ ${#sudo_cmd[@]} -gt 0 ]] && ! command -v sudo >/dev/null 2>&1; then
    die "not root and sudo is missing: install $* as root (apt-get install $*), then run this again"
  fi
  if [[ "$apt_updated" -eq 0 ]]; then
    say "updating the package lists (apt-get update)…"
    "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    apt_updated=1
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@"
}

# Bun ------------------------------------------------------------------------------------------
bun_on_caller_path=0
if command -v bun >/dev/null 2>&1; then
  bun_on_caller_path=1
fi
tickwheel_setup_path_add_bun
if ! command -v bun >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 ||
    die "bun is missing and so is npm: install Node.js (npm) or Bun (https://bun.sh), then run this again"
  npm_prefix="$(npm prefix -g 2>/dev/null)" || die "could not ask npm for its global prefix"
  # A global install writes <prefix>/lib/node_modules and <prefix>/bin: both (or, when absent, the
  # prefix itself) must be writable by us, otherwise npm fails half-way with EACCES.
  global_writable=1
  for dir in "$npm_prefix/lib/node_modules" "$npm_prefix/bin"; do
    if [[ -e "$dir" && ! -w "$dir" ]] || [[ ! -e "$dir" && ! -w "$npm_prefix" ]]; then
      global_writable=0
    fi
  done
  if [[ "$global_writable" -eq 1 ]]; then
    say "installing Bun with npm (npm install -g bun)…"
    npm install -g bun
  else
    tools_dir="$(tickwheel_setup_tools_dir)"
    say "installing Bun with npm into $tools_dir (npm's global prefix $npm_prefix is not writable)…"
    mkdir -p "$tools_dir"
    npm install --prefix "$tools_dir" --no-save --no-audit --no-fund bun
  fi
  tickwheel_setup_path_add_bun
  command -v bun >/dev/null 2>&1 || die "npm installed Bun but no bun executable was found"
fi
if [[ "$bun_on_caller_path" -eq 0 && "$sourced_mode" -eq 0 ]]; then
  # Sourcing puts it on PATH by itself; a plain run can only say how.
  bun_dir="$(dirname "$(command -v bun)")"
  say "Bun is at $bun_dir/bun, not on your PATH; to use it directly: export PATH=\"$bun_dir:\$PATH\""
fi

# redis-server (Debian's package also brings redis-cli, which the test helpers use) ---------------
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  say "installing redis-server with apt-get…"
  apt_install redis-server redis-tools
  command -v redis-server >/dev/null 2>&1 || die "apt-get ran but redis-server is still missing"
fi

# setpriv (util-linux): runs child redis-servers with a parent-death signal so none outlives us --
if ! command -v setpriv >/dev/null 2>&1; then
  say "installing setpriv with apt-get (util-linux)…"
  apt_install util-linux
  command -v setpriv >/dev/null 2>&1 || die "apt-get ran but setpriv is still missing"
fi

# chromium, only for the browser tests ----------------------------------------------------------
if [[ "$want_chromium" == "1" ]]; then
  if ! command -v chromium >/dev/null 2>&1 && [[ ! -x /usr/bin/chromium ]]; then
    say "installing chromium with apt-get (browser tests)…"
    apt_install chromium fonts-liberation
    [[ -x /usr/bin/chromium ]] || command -v chromium >/dev/null 2>&1 ||
      die "apt-get ran but chromium is still missing"
  fi
fi

# test tools, only for the test suite: a real Celery worker (Debian's python3 has the packages, not
# the first python3 on PATH), faketime for clock-skew tests, promtool to lint /metrics --------------
if [[ "${TICKWHEEL_SETUP_TEST_TOOLS:-0}" == "1" ]]; then
  test_pkgs=()
  if ! /usr/bin/python3 -c 'import celery, redis' >/dev/null 2>&1; then
    test_pkgs+=(python3-celery python3-redis)
  fi
  # pip for the Python client's install test (pip install --no-index ./clients/python).
  /usr/bin/python3 -m pip --version >/dev/null 2>&1 || test_pkgs+=(python3-pip)
  command -v faketime >/dev/null 2>&1 || test_pkgs+=(faketime)
  command -v promtool >/dev/null 2>&1 || test_pkgs+=(prometheus)
  # openssl makes the certificates of the webhook's HTTPS test (test/pool/webhook/webhook-tls.test.ts).
  command -v openssl >/dev/null 2>&1 || test_pkgs+=(openssl)
  if [[ ${#test_pkgs[@]} -gt 0 ]]; then
    say "installing test tools with apt-get: ${test_pkgs[*]} (Celery worker, clock skew, metrics lint)…"
    apt_install "${test_pkgs[@]}"
    /usr/bin/python3 -c 'import celery, redis' >/dev/null 2>&1 || die "apt-get ran but Debian's python3 still cannot import celery and redis"
    /usr/bin/python3 -m pip --version >/dev/null 2>&1 || die "apt-get ran but Debian's python3 still has no pip"
    command -v faketime >/dev/null 2>&1 || die "apt-get ran but faketime is still missing"
    command -v promtool >/dev/null 2>&1 || die "apt-get ran but promtool is still missing"
    command -v openssl >/dev/null 2>&1 || die "apt-get ran but openssl is still missing"
  fi
fi

# node_modules ----------------------------------------------------------------------------------
# The stamp records the last successful install, so the step reruns exactly when package.json or
# the lockfile changed since (node_modules' own mtime does not move on a no-op install).
install_stamp="$repo_root/node_modules/.tickwheel-install-stamp"
lockfile=""
for candidate in bun.lock bun.lockb; do
  if [[ -f "$repo_root/$candidate" ]]; then
    lockfile="$repo_root/$candidate"
    break
  fi
done
needs_install=0
if [[ ! -d "$repo_root/node_modules" || ! -f "$install_stamp" ]]; then
  needs_install=1
elif [[ "$repo_root/package.json" -nt "$install_stamp" ]]; then
  needs_install=1
elif [[ -n "$lockfile" && "$lockfile" -nt "$install_stamp" ]]; then
  needs_install=1
fi
if [[ "$needs_install" -eq 1 ]]; then
  if [[ -n "$lockfile" ]]; then
    say "bun install --frozen-lockfile…"
    (cd "$repo_root" && bun install --frozen-lockfile) ||
      die "bun install --frozen-lockfile failed: if $(basename "$lockfile") is out of date with package.json, run bun install and commit it"
  else
    say "bun install (no lockfile yet)…"
    (cd "$repo_root" && bun install)
  fi
  touch "$install_stamp"
fi

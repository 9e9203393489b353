#!/usr/bin/env bash
# The README's test command: installs what the tests need (Debian: mosquitto, socat, chromium for
# the live view's browser test, cmake and python3-catkin-pkg for the ROS 2 package checks; npm
# packages), then runs the whole suite. The tests start their own Mosquitto broker, socat pty pairs
# and headless Chromium on free ports / temp paths and stop them afterwards; nothing here starts a
# system service.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v socat >/dev/null 2>&1 || need+=(socat)
[ -x /usr/bin/chromium ] || need+=(chromium)
# The ROS 2 package checks: CMake install rules and package.xml parsed by catkin_pkg.
command -v cmake >/dev/null 2>&1 || need+=(cmake)
/usr/bin/python3 -c "import catkin_pkg" >/dev/null 2>&1 || need+=(python3-catkin-pkg)
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing Debian packages: ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian package enables a system broker on :1883; the tests use their own, so stop it.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test.sh: installing npm packages (npm ci)" >&2
  npm ci --loglevel=error
fi

npx tsc -p tsconfig.json --noEmit
npx biome check src sim tests bench models
# The command line the tests start runs dist/ when it is current (about 40 % less CPU per start).
node scripts/build.mjs
npx vitest run "$@"

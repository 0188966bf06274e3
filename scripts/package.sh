#!/usr/bin/env bash
# Builds the release Debian package with cargo-deb (target/package/debian/praetor_<version>_<arch>.deb).
# With --check it then unpacks the package into an empty directory tree (dpkg -x, no container,
# nothing installed on this machine) and checks what a fresh Debian machine would get: the three
# programs run, the example configuration validates, the unit passes `systemd-analyze verify`,
# the configuration is a conffile, the maintainer scripts parse, register the unit and set the
# configuration's mode. As root it then installs, removes and purges the package with dpkg on a
# copy-on-write overlay of this machine (nothing is written to the host).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb $CARGO_DEB_VERSION" >&2
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
if [ "${1:-}" = --check ]; then
  # The check (scripts/test.sh, CI) packages the binaries `cargo test` has just built in the dev
  # profile, stripped, rather than compiling everything again in release mode (about 4 minutes
  # on two cores); what it checks, the packaging, is the same. cargo-deb warns that dev-profile
  # packages are not for release: they are not, `bash scripts/package.sh` makes that one.
  cargo build --locked --bins
  deb=$(cargo deb --locked --no-build --profile dev --output target/debian-check/ | tail -n 1)
else
  # Its own target directory: a `cargo test` of the same checkout may be holding the main one.
  export CARGO_TARGET_DIR="${PRAETOR_PACKAGE_TARGET:-$PWD/target/package}"
  # The programs are built statically linked (scripts/build-release.sh says why); cargo deb
  # reports progress on stderr and the package's path on stdout.
  bash scripts/build-release.sh >/dev/null
  host=$(rustc -vV | sed -n 's/^host: //p')
  deb=$(cargo deb --locked --no-build --target "$host" --output "$CARGO_TARGET_DIR/debian/" | tail -n 1)
fi
[ -f "$deb" ] || { echo "cargo deb did not report a package file (got: $deb)" >&2; exit 1; }
echo "built $deb"
[ "${1:-}" = --check ] || exit 0

fail() { echo "package check: $*" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb --info "$deb" >"$root/info"
dpkg-deb --contents "$deb" >"$root/contents"
dpkg-deb -x "$deb" "$root/fs"
dpkg-deb -e "$deb" "$root/control"

for f in usr/bin/praetor usr/bin/praetorctl usr/bin/praetor-fence-guard; do
  [ -x "$root/fs/$f" ] || fail "$f is missing or not executable"
done
unit=$(find "$root/fs" -name praetor.service | head -n 1)
[ -n "$unit" ] || fail "the systemd unit is missing"
[ -f "$root/fs/etc/praetor/praetor.yml" ] || fail "/etc/praetor/praetor.yml is missing"
grep -q '^/etc/praetor/praetor.yml$' "$root/control/conffiles" || fail "praetor.yml is not a conffile"
grep -q 'chmod 0640 /etc/praetor/praetor.yml' "$root/control/postinst" || fail "postinst does not protect praetor.yml"
grep -q 'Depends:' "$root/info" || fail "no Depends field"
for script in postinst prerm postrm; do
  [ -f "$root/control/$script" ] || fail "no $script maintainer script (the unit's enable/stop hooks)"
  sh -n "$root/control/$script" || fail "$script is not valid sh"
done
grep -q 'deb-systemd-helper' "$root/control/postinst" || fail "postinst does not register the unit"
[ -f "$root/fs/usr/share/doc/praetor/production.md" ] || fail "docs/production.md is not in the package"

"$root/fs/usr/bin/praetor" --version | grep -q '^praetor ' || fail "praetor --version"
"$root/fs/usr/bin/praetorctl" --help | grep -q 'switchover' || fail "praetorctl --help"
"$root/fs/usr/bin/praetor" --validate-config "$root/fs/etc/praetor/praetor.yml" \
  || fail "the example configuration does not validate"

if command -v systemd-analyze >/dev/null 2>&1; then
  # verify checks that ExecStart's program exists: point the unit at the unpacked tree.
  sed "s#/usr/bin/praetor#$root/fs/usr/bin/praetor#g; s#/etc/praetor/#$root/fs/etc/praetor/#g" \
    "$unit" >"$root/praetor.service"
  out=$(systemd-analyze verify "$root/praetor.service" 2>&1) || fail "systemd-analyze verify: $out"
  if grep -q 'praetor.service' <<<"$out"; then fail "systemd-analyze verify warns: $out"; fi
else
  echo "systemd-analyze not installed: unit verification skipped" >&2
fi
# dpkg -i for real, on a copy-on-write view of this machine: / under an overlay in a private
# mount namespace, entered with chroot. The maintainer scripts run as on a Debian server; every
# write lands in the overlay's upper directory, which is removed with $root. Needs root and
# overlayfs; elsewhere (a developer's non-root run) this part is skipped and says so.
install_check() {
  local ovl="$root/ovl"
  mkdir -p "$ovl/upper" "$ovl/work" "$ovl/merged"
  cp "$deb" "$ovl/upper/praetor.deb"
  cat >"$ovl/upper/install-check.sh" <<'INNER'
set -euo pipefail
fail() { echo "package check (dpkg -i): $*" >&2; exit 1; }
dpkg -i /praetor.deb >/dev/null || fail "dpkg -i failed"
for f in /usr/bin/praetor /usr/bin/praetorctl /usr/bin/praetor-fence-guard; do
  [ -x "$f" ] || fail "$f is not installed"
done
[ "$(stat -c %a /etc/praetor)" = 750 ] || fail "/etc/praetor is not mode 0750"
[ "$(stat -c %a /etc/praetor/praetor.yml)" = 640 ] || fail "praetor.yml is not mode 0640"
if getent group postgres >/dev/null; then
  [ "$(stat -c %G /etc/praetor/praetor.yml)" = postgres ] || fail "praetor.yml is not group postgres"
fi
unit=$(dpkg -L praetor | grep '/systemd/system/praetor.service$') || fail "the unit is not installed"
[ ! -e /etc/systemd/system/multi-user.target.wants/praetor.service ] \
  || fail "the unit is enabled before it is configured"
if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify "$unit" || fail "systemd-analyze verify $unit"
fi
/usr/bin/praetor --validate-config /etc/praetor/praetor.yml >/dev/null || fail "--validate-config"
dpkg -r praetor >/dev/null || fail "dpkg -r failed"
[ ! -e /usr/bin/praetor ] || fail "dpkg -r left /usr/bin/praetor"
[ -f /etc/praetor/praetor.yml ] || fail "dpkg -r removed the configuration (a conffile stays until purge)"
dpkg -P praetor >/dev/null || fail "dpkg -P failed"
[ ! -e /etc/praetor/praetor.yml ] || fail "dpkg -P left /etc/praetor/praetor.yml"
echo "dpkg -i, -r and -P passed"
INNER
  unshare --mount --fork sh -euc '
    mount --make-rprivate /
    mount -t overlay overlay -o "lowerdir=/,upperdir=$1/upper,workdir=$1/work" "$1/merged"
    mount -t proc proc "$1/merged/proc"
    chroot "$1/merged" bash /install-check.sh' sh "$ovl"
}
can_overlay() {
  [ "$(id -u)" = 0 ] && command -v unshare >/dev/null || return 1
  mkdir -p "$root/probe/u" "$root/probe/w" "$root/probe/m"
  unshare --mount sh -c 'mount -t overlay overlay -o "lowerdir=/,upperdir=$1/u,workdir=$1/w" "$1/m"' \
    sh "$root/probe" 2>/dev/null
}
if can_overlay; then
  install_check || fail "installing the package failed (see above)"
else
  echo "not root, or no overlayfs in a private mount namespace: dpkg -i check skipped" >&2
fi

echo "package check passed: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

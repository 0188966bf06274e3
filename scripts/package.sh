#!/usr/bin/env bash
# Builds the release Debian package with cargo-deb (target/package/debian/praetor_<version>_<arch>.deb).
# With --check it then unpacks the package into an empty directory tree (dpkg -x, no container,
# nothing installed on this machine) and checks what a fresh Debian machine would get: the three
# programs run, the example configuration validates, the unit passes `systemd-analyze verify`,
# the configuration is a conffile, the maintainer scripts parse, register the unit and set the
# configuration's mode.
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
  # cargo deb reports progress on stderr and the package's path on stdout.
  deb=$(cargo deb --locked --output "$CARGO_TARGET_DIR/debian/" | tail -n 1)
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
echo "package check passed: $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

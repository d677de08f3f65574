#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make install DESTDIR=...` puts every piece where the units and the
# default configuration expect it, and what it installs works: the
# installed daemon accepts the installed configuration, the installed
# simulated guest finds the installed traces.
set -eu

BUILD=${BUILD:-build}
dest=$(mktemp -d /tmp/ha-install-XXXXXX)
trap 'rm -rf "$dest"' EXIT INT TERM

make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$dest" >/dev/null

fail=0
for f in usr/sbin/hyperallocd usr/bin/hactl usr/libexec/hyperalloc/ha-simguest \
	usr/share/hyperalloc/openapi.yaml usr/share/hyperalloc/traces/clang-build.trace \
	usr/share/doc/hyperalloc/README.md lib/systemd/system/hyperallocd.service \
	lib/systemd/system/hyperallocd.socket usr/lib/sysusers.d/hyperalloc.conf \
	usr/lib/tmpfiles.d/hyperalloc.conf etc/hyperalloc/hyperallocd.json; do
	if [ ! -s "$dest/$f" ]; then
		echo "missing after install: /$f"
		fail=1
	fi
done

# The unit runs exactly this command before starting.
out=$("$dest/usr/sbin/hyperallocd" --check-config \
	--config "$dest/etc/hyperalloc/hyperallocd.json")
[ "$out" = "configuration OK" ] || { echo "installed config: $out"; fail=1; }

# The unit's ExecStart names the installed daemon and its config.
grep -q '^ExecStart=/usr/sbin/hyperallocd --config /etc/hyperalloc/hyperallocd.json$' \
	"$dest/lib/systemd/system/hyperallocd.service" || {
	echo "ExecStart does not match the installed paths"
	fail=1
}

# The default config points the daemon at the installed guest and traces.
grep -q '"/usr/libexec/hyperalloc/ha-simguest"' "$dest/etc/hyperalloc/hyperallocd.json" &&
	grep -q '"/usr/share/hyperalloc/traces"' "$dest/etc/hyperalloc/hyperallocd.json" || {
	echo "default config does not name the installed guest and traces"
	fail=1
}

# A second install keeps an edited configuration.
echo '{}' > "$dest/etc/hyperalloc/hyperallocd.json"
make --no-print-directory -s install BUILD="$BUILD" DESTDIR="$dest" >/dev/null
[ "$(cat "$dest/etc/hyperalloc/hyperallocd.json")" = "{}" ] || {
	echo "make install overwrote an existing configuration"
	fail=1
}

[ "$fail" -eq 0 ] && echo "install: ok"
exit "$fail"

#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Policies are pure (STYLE.md 2, policies/policy.h): no libvirt, jansson,
# systemd or other I/O header in policies/, no call out of the policy
# objects except to a short list of pure library functions (memory,
# strings, number parsing, formatting into a buffer), and no writable
# global state. Three checks:
#   1. #include lines of every policies/ source (examples too);
#   2. nm -u of every built policy object and example plugin against the
#      allowed list; anything else fails, I/O by name;
#   3. objdump -t: no symbol in .data or .bss (state lives behind the
#      state pointer init() returns).
# Each check first runs against planted violations and must catch them,
# so this test cannot pass by checking nothing.
set -u

BUILD=${BUILD:-build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
cd "$TOP" || exit 1
CC=${CC:-cc}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/ha-purity.XXXXXX")
trap 'rm -rf "$TMP"' EXIT INT TERM

# Headers a pure policy has no use for.
BAD_INCLUDE='^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]'
BAD_INCLUDE="$BAD_INCLUDE"'(libvirt/|jansson|systemd/|sd-|microhttpd|libxml/'
BAD_INCLUDE="$BAD_INCLUDE"'|unistd\.h|fcntl\.h|sys/|dlfcn\.h|pthread\.h'
BAD_INCLUDE="$BAD_INCLUDE"'|time\.h|signal\.h|syslog\.h|poll\.h|dirent\.h'
BAD_INCLUDE="$BAD_INCLUDE"'|netinet/|arpa/|\.\./)'

# Pure library functions a policy may call: memory for its state,
# strings, parsing numbers, formatting an error message into a buffer,
# libm, libgcc's 128-bit arithmetic.
ALLOWED="malloc calloc realloc free aligned_alloc
memcpy memmove memset memcmp memchr strcmp strncmp strlen strnlen strchr
strrchr strstr strdup strndup strtok_r
strtod strtof strtol strtoll strtoul strtoull
__isoc23_strtol __isoc23_strtoll __isoc23_strtoul __isoc23_strtoull
snprintf vsnprintf __snprintf_chk __vsnprintf_chk
__memcpy_chk __memmove_chk __memset_chk __stack_chk_fail __errno_location
sqrt exp log log2 pow floor ceil fabs fmin fmax round lround
__udivti3 __divti3 __umodti3 __modti3 __multi3 __fixunsdfti __floatuntidf
_GLOBAL_OFFSET_TABLE_ __gmon_start__ __cxa_finalize
_ITM_deregisterTMCloneTable _ITM_registerTMCloneTable"

# Named so the message says what is wrong.
IO="open open64 openat openat64 creat read write close pread pwrite
readv writev lseek fsync fopen fopen64 fdopen freopen fclose fread fwrite
fgets fputs fputc putc fgetc getc puts putchar printf fprintf vprintf
vfprintf dprintf perror fflush fscanf scanf sscanf __isoc99_sscanf
__isoc23_sscanf socket connect bind listen accept accept4 send sendto
sendmsg recv recvfrom recvmsg shutdown ioctl fcntl poll ppoll select
epoll_wait epoll_ctl mmap munmap mprotect madvise fallocate stat fstat
lstat access unlink rename mkdir opendir readdir dlopen dlsym dlclose
syslog vsyslog openlog clock_gettime gettimeofday time clock nanosleep
sleep usleep getenv secure_getenv setenv system popen fork vfork execve
execv execvp kill raise abort exit _exit rand srand random srandom
getrandom getpid"

ALLOWED_LIST="$TMP/allowed"
IO_LIST="$TMP/io"
echo "$ALLOWED" | tr ' ' '\n' | sed '/^$/d' | sort -u >"$ALLOWED_LIST"
echo "$IO" | tr ' ' '\n' | sed '/^$/d' | sort -u >"$IO_LIST"

# check_includes FILE...: print offending #include lines; 1 if any.
check_includes() {
	bad=0
	for f in "$@"; do
		if grep -nE "$BAD_INCLUDE" "$f" >"$TMP/inc" 2>/dev/null; then
			sed "s|^|$f:|; s|\$|  <- not for a pure policy|" \
				"$TMP/inc"
			bad=1
		fi
	done
	return $bad
}

# check_symbols DEFINED OBJ...: print calls out of the policies that are
# not allowed; 1 if any. DEFINED lists symbols the policy objects define
# for each other.
check_symbols() {
	defined=$1
	shift
	bad=0
	for o in "$@"; do
		case "$o" in
		*.so) nm -D -u "$o" ;;
		*) nm -u "$o" ;;
		esac 2>/dev/null | awk '{print $NF}' | sed 's/@.*//' |
			sort -u >"$TMP/undef"
		while read -r sym; do
			case "$sym" in
			__asan_* | __ubsan_* | __sanitizer_* | __tsan_* | \
				__lsan_*) continue ;;
			esac
			grep -qxF "$sym" "$defined" && continue
			grep -qxF "$sym" "$ALLOWED_LIST" && continue
			if grep -qxF "$sym" "$IO_LIST"; then
				echo "$o: calls $sym: I/O, time or process" \
					"control has no place in a policy"
			else
				echo "$o: calls $sym: not on the list of pure" \
					"functions in $0 (add it there only" \
					"if it does no I/O)"
			fi
			bad=1
		done <"$TMP/undef"
	done
	return $bad
}

# check_globals OBJ...: print writable global state; 1 if any.
check_globals() {
	bad=0
	for o in "$@"; do
		# "ADDR FLAGS SECTION SIZE NAME": a named object in .data or
		# .bss (not the relocated constants of .data.rel.ro).
		objdump -t "$o" 2>/dev/null |
			awk 'NF >= 5 && $(NF-2) ~ /^\.(data|bss)/ &&
			     $(NF-2) !~ /^\.data\.rel\.ro/ &&
			     $NF != $(NF-2) { print $NF }' >"$TMP/glob"
		# Compiler-made names aside, any name left is a variable the
		# policy writes.
		while read -r sym; do
			case "$sym" in
			"" | completed.* | __dso_handle | __TMC_END__ | \
				_DYNAMIC | __bss_start | _edata | _end) continue ;;
			# sanitizer bookkeeping (SAN= builds)
			__asan* | ___asan* | __odr_asan* | __ubsan* | \
				__sancov* | __tsan*) continue ;;
			esac
			echo "$o: writable global \"$sym\": keep state behind" \
				"the pointer init() returns"
			bad=1
		done <"$TMP/glob"
	done
	return $bad
}

for tool in nm objdump grep awk; do
	command -v $tool >/dev/null || {
		echo "FAIL: $tool is needed"
		exit 1
	}
done

fail=0

# ---- the checks catch planted violations ----
mkdir -p "$TMP/plant"
cp policies/static.c "$TMP/plant/static.c"
for h in '<jansson.h>' '<systemd/sd-event.h>' '<libvirt/libvirt.h>' \
	'<unistd.h>' '"../daemon/log.h"'; do
	sed "1a #include $h" policies/static.c >"$TMP/plant/p.c"
	if check_includes "$TMP/plant/p.c" >/dev/null; then
		echo "FAIL: the include check misses #include $h"
		fail=1
	fi
done
if ! check_includes "$TMP/plant/static.c" >/dev/null; then
	echo "FAIL: the include check flags the untouched static.c"
	fail=1
fi

: >"$TMP/none"
n=0
for body in 'printf("x\n");' 'int fd = open("/x", 0); (void)fd;' \
	'fputs("x", stderr);' 'struct timespec t; clock_gettime(0, &t);' \
	'(void)getenv("X");' 'sync();'; do
	n=$((n + 1))
	cat >"$TMP/v$n.c" <<EOF
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
void violation(void);
void violation(void) { $body }
EOF
	if ! $CC -O2 -c -o "$TMP/v$n.o" "$TMP/v$n.c" 2>"$TMP/cc.err"; then
		echo "FAIL: cannot build the planted violation: $body"
		cat "$TMP/cc.err"
		fail=1
	elif check_symbols "$TMP/none" "$TMP/v$n.o" >/dev/null; then
		echo "FAIL: the symbol check misses: $body"
		fail=1
	fi
done
printf 'int counter;\nint bump(void);\nint bump(void) { return ++counter; }\n' \
	>"$TMP/g.c"
printf 'static int n = 3;\nint more(void);\nint more(void) { return ++n; }\n' \
	>"$TMP/g2.c"
for g in g g2; do
	if ! $CC -O2 -c -o "$TMP/$g.o" "$TMP/$g.c"; then
		echo "FAIL: cannot build the planted global $g.c"
		fail=1
	elif check_globals "$TMP/$g.o" >/dev/null; then
		echo "FAIL: the global check misses $(head -1 "$TMP/$g.c")"
		fail=1
	fi
done

# ---- the real policies ----
SRC=$(find policies -name '*.[ch]' | sort)
OBJ=$(find "$BUILD/policies" -maxdepth 1 -name '*.o' 2>/dev/null | sort)
SO=$(find "$BUILD/policies/examples" -maxdepth 1 -name '*.so' 2>/dev/null |
	sort)
if [ -z "$OBJ" ] || [ -z "$SO" ]; then
	echo "FAIL: no policy objects under $BUILD/policies: run make first"
	exit 1
fi
for c in $(find policies -maxdepth 1 -name '*.c'); do
	o="$BUILD/policies/$(basename "$c" .c).o"
	[ -f "$o" ] || {
		echo "FAIL: $c is not built ($o missing)"
		fail=1
	}
done

# shellcheck disable=SC2086
check_includes $SRC || fail=1
# shellcheck disable=SC2086
nm --defined-only $OBJ 2>/dev/null | awk 'NF == 3 {print $3}' | sort -u \
	>"$TMP/defined"
# shellcheck disable=SC2086
check_symbols "$TMP/defined" $OBJ $SO || fail=1
# shellcheck disable=SC2086
check_globals $OBJ || fail=1

if [ $fail -ne 0 ]; then
	echo "FAIL: policies/ is not pure"
	exit 1
fi
echo "ok: $(echo "$SRC" | wc -l) sources, $(echo "$OBJ $SO" | wc -w)" \
	"objects: no I/O header, no call out but to pure functions," \
	"no writable globals"

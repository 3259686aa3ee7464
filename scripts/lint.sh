#!/usr/bin/env bash
# scripts/lint.sh: static analysis of jobchunk's C sources.
#
# Runs cppcheck and clang-tidy (configured by .clang-tidy) over src/*.c with
# the include paths and defines the build uses, and exits non-zero on any
# finding of either.  Installs cppcheck and clang-tidy (and PostgreSQL's
# server headers) with apt-get when they are missing, which needs root; with
# the tools present it runs as any user and writes nothing.
#
# Set PG_MAJOR (default 15) or PG_CONFIG to lint against other headers.

set -euo pipefail

PG_MAJOR=${PG_MAJOR:-15}
SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$SRC_DIR"

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
tools=()
command -v cppcheck >/dev/null || tools+=(cppcheck)
command -v clang-tidy >/dev/null || tools+=(clang-tidy)
[ -x "$PG_CONFIG" ] || tools+=("postgresql-server-dev-$PG_MAJOR")
if [ ${#tools[@]} -gt 0 ]; then
	# installing needs root, which common.sh insists on
	source "$SRC_DIR/scripts/common.sh"
	install_packages "${tools[@]}"
fi

# What the build (PGXS, with the Makefile's PG_CPPFLAGS and PG_CFLAGS) puts
# on the compiler's command line, less gcc's code generation options.
server_inc=$("$PG_CONFIG" --includedir-server)
internal_inc=$("$PG_CONFIG" --pkgincludedir)/internal
read -r -a pg_cppflags <<<"$("$PG_CONFIG" --cppflags)"
includes=(-I"$SRC_DIR/src" -I"$server_inc" -I"$internal_inc")
defines=()
for flag in "${pg_cppflags[@]}"; do
	case $flag in
	-D*) defines+=("$flag") ;;
	-I*) includes+=("$flag") ;;
	esac
done
sources=(src/*.c)
status=0

# cppcheck.  PostgreSQL's headers refuse to be read without a known compiler
# and CPU (s_lock.h: "#error PostgreSQL does not have native spinlock
# support"), so cppcheck gets gcc's predefined macros, as the build does,
# through --include; giving defines with -D also makes it check the build's
# one configuration instead of guessing others.  --library=posix knows the
# POSIX functions.  Suppressed: any finding located in PostgreSQL's own
# headers (not ours to fix; our code's use of their macros is still checked
# where it is expanded).  Findings in src/ can be silenced one at a time with
# a "// cppcheck-suppress <id>" comment (--inline-suppr), with a reason.
echo "== cppcheck $(cppcheck --version | sed 's/^Cppcheck //')"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -dM -E -x c /dev/null >"$work/predefined.h"
if ! cppcheck --quiet --error-exitcode=1 \
	--enable=warning,performance,portability \
	--platform=unix64 --library=posix --inline-suppr \
	--include="$work/predefined.h" "${defines[@]}" "${includes[@]}" \
	--suppress="*:$server_inc/*" --suppress="*:$internal_inc/*" \
	--suppress=normalCheckLevelMaxBranches \
	-j "$(nproc)" "${sources[@]}"; then
	status=1
fi

# clang-tidy: the checks are in .clang-tidy, which also makes every finding an
# error.  The build's warning flags are passed so that clang's own warnings
# (clang-diagnostic-*) are reported too.
echo "== clang-tidy $(clang-tidy --version | sed -n 's/.*LLVM version //p')"
for source in "${sources[@]}"; do
	# (clang's "N warnings generated" counts the suppressed ones in
	# PostgreSQL's headers: dropped)
	if ! clang-tidy --quiet "$source" -- \
		"${defines[@]}" "${includes[@]}" -Wall -Wextra -Wno-unused-parameter \
		>"$work/clang-tidy.out" 2>&1; then
		status=1
	fi
	grep -v '^[0-9]* warnings\? generated\.$' "$work/clang-tidy.out" || true
done

if [ "$status" -eq 0 ]; then
	echo "lint: no findings in ${#sources[@]} files"
else
	echo "lint: findings above" >&2
fi
exit "$status"

#!/usr/bin/env bash
# scripts/test.sh: every jobchunk test suite, from a fresh Debian 12 machine.
#
# Run as root: installs what is missing, builds with warnings as errors,
# installs, runs cppcheck and clang-tidy (scripts/lint.sh), starts a
# throwaway cluster, and runs the pg_regress suite, the isolation specs and
# the TAP tests as the postgres OS user.  Exits non-zero
# when anything fails; the last line counts the suites' tests.

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_packages make gcc "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	libipc-run-perl "postgresql-$PG_MAJOR-plproxy" pgbouncer python3-psycopg2
build_and_install
bash "$SRC_DIR/scripts/lint.sh"
start_cluster

# The suites write their results into the tree: give the postgres user a
# copy of its own.
cp -a "$SRC_DIR" "$WORK_DIR/src"
rm -rf "$WORK_DIR/src/.git"
chown -R postgres: "$WORK_DIR/src"

failed_suites=0
run_suite() {
	local name=$1
	shift
	echo "== $name"
	if ! as_postgres make -C "$WORK_DIR/src" -s installcheck "$@" 2>&1 |
		tee -a "$WORK_DIR/tests.log"; then
		failed_suites=$((failed_suites + 1))
		cat "$WORK_DIR"/src/regression.diffs "$WORK_DIR"/src/output_iso/regression.diffs \
			2>/dev/null || true
		for log in "$WORK_DIR"/src/tmp_check/log/regress_log_*; do
			if [ -f "$log" ]; then tail -n 50 "$log"; fi
		done
	fi
}

run_suite "regression tests (pg_regress)" ISOLATION= TAP_TESTS=
run_suite "isolation tests (pg_isolation_regress)" REGRESS= TAP_TESTS=
run_suite "TAP tests (prove)" REGRESS= ISOLATION=

passed=$(grep -cE '\.\.\. ok |\.\. ok$|^ok [0-9]+ ' "$WORK_DIR/tests.log" || true)
# pg_regress before 16 and from 16 on, and prove's summary report, which
# names each failed script once (its progress line may not say so)
failed=$(grep -cE '\.\.\. FAILED|^not ok [0-9]+ |^[^ ]+\.pl \(Wstat: ' "$WORK_DIR/tests.log" || true)
if [ "$failed_suites" -gt 0 ] && [ "$failed" -eq 0 ]; then
	failed=$failed_suites
fi
echo "jobchunk: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

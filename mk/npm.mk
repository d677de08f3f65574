# SPDX-License-Identifier: GPL-2.0-or-later
#
# npm packages, pinned by the lockfiles in the tree and installed by
# tools/npm-ci.sh under build/npm/ (one install for every build, the
# sanitizer ones included; never in the source tree):
#   build/npm/dashboard/  what the dashboard's assets are built from
#                         (daemon/http/dashboard/package.json), needed
#                         to build hyperallocd;
#   build/npm/tests/      the third-party clients of the integration tests
#                         (tests/npm/package.json), installed by
#                         `make check` before the tests run.
# Network is needed only the first time, and never when the daemon runs.

# NPM_DIR, NPM_DASHBOARD and NPM_TESTS are set in the top Makefile, so
# that every fragment can name them.

$(NPM_DASHBOARD): daemon/http/dashboard/package.json \
		daemon/http/dashboard/package-lock.json tools/npm-ci.sh
	$(Q)tools/npm-ci.sh daemon/http/dashboard $(NPM_DIR)/dashboard
	@touch $@

$(NPM_TESTS): tests/npm/package.json tests/npm/package-lock.json \
		tools/npm-ci.sh
	$(Q)tools/npm-ci.sh tests/npm $(NPM_DIR)/tests
	@touch $@

npm-tests: $(NPM_TESTS)

.PHONY: npm-tests

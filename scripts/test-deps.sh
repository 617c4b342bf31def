#!/usr/bin/env bash
# test-deps.sh makes sure the machine has what `make test` needs besides Go
# and the npm packages (the browser-deps target installs those): Chromium for
# the browser tests and a reachable PostgreSQL for the tests that fail, never
# skip, without one.
#
# As root it installs Chromium with apt-get and starts the local PostgreSQL
# cluster, as a fresh CI machine needs. Otherwise it changes nothing: it stops
# before any test runs and prints the command that fixes each problem, so
# nobody has to read a failed test run to learn that Chromium was missing.
# Silent when everything is there.
#
# CHROMIUM is the browser's path (default /usr/bin/chromium, as for the
# browser tests); GATEHOUSE_TEST_DATABASE_URL the database that is checked.
set -euo pipefail

chromium=${CHROMIUM:-/usr/bin/chromium}
db_url=${GATEHOUSE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
# How long a cluster that was just started may take to accept connections.
pg_wait_seconds=30

say() { echo "test-deps: $*" >&2; }

is_root() { [ "$(id -u)" -eq 0 ]; }

# apt_get runs apt-get without a word unless it fails, then with all it said.
# It waits for a lock held by another install instead of failing at once.
apt_get() {
	local out
	if ! out=$(DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		say "apt-get $* failed"
		exit 1
	fi
}

# The database URL without its user information, which may hold a password.
where=$(printf '%s' "$db_url" | sed -E 's#^([a-z]+://)[^@/]*@#\1#')

pg_ready() { pg_isready -q -d "$db_url" >/dev/null 2>&1; }

# Only a server on this machine can be started from here.
pg_is_local() {
	local rest=${db_url#*://}
	rest=${rest#*@}
	case "$rest" in
	127.0.0.1[:/]* | 127.0.0.1 | localhost[:/]* | localhost | \[::1\]* | /*) return 0 ;;
	*) return 1 ;;
	esac
}

# The newest installed cluster named main, e.g. 15.
pg_cluster_version() {
	command -v pg_lsclusters >/dev/null 2>&1 || return 0
	pg_lsclusters -h 2>/dev/null | awk '$2 == "main" { print $1 }' | sort -V | tail -n 1
}

# What a user who is not root must run, one line per problem.
todo=()

if [ ! -x "$chromium" ]; then
	if is_root; then
		say "installing chromium with apt-get"
		apt_get update
		apt_get install -y chromium
		if [ ! -x "$chromium" ]; then
			say "apt-get installed chromium, but $chromium is still missing (set CHROMIUM to the browser's path)"
			exit 1
		fi
	else
		todo+=("Chromium is missing at $chromium; install it with:
    sudo sh -c 'apt-get update && apt-get install -y chromium'")
	fi
fi

if ! command -v pg_isready >/dev/null 2>&1; then
	todo+=("pg_isready is not installed; install PostgreSQL with:
    sudo sh -c 'apt-get update && apt-get install -y postgresql'")
elif ! pg_ready; then
	version=$(pg_cluster_version)
	if ! pg_is_local; then
		todo+=("PostgreSQL is not reachable at $where (GATEHOUSE_TEST_DATABASE_URL); start that server or point the variable at one that runs")
	elif [ -z "$version" ]; then
		todo+=("PostgreSQL is not reachable at $where and no cluster is installed; install one with:
    sudo sh -c 'apt-get update && apt-get install -y postgresql'")
	elif is_root; then
		say "starting PostgreSQL $version"
		# A cluster that is already starting makes pg_ctlcluster fail; the
		# wait below decides whether that matters.
		pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
			say "pg_ctlcluster failed; waiting for PostgreSQL anyway"
		for _ in $(seq 1 "$pg_wait_seconds"); do
			pg_ready && break
			sleep 1
		done
		if ! pg_ready; then
			say "PostgreSQL $version is not accepting connections at $where after ${pg_wait_seconds} s (see /var/log/postgresql/postgresql-$version-main.log)"
			exit 1
		fi
	else
		todo+=("PostgreSQL is not reachable at $where; start it with:
    sudo pg_ctlcluster --skip-systemctl-redirect $version main start")
	fi
fi

if [ ${#todo[@]} -gt 0 ]; then
	say "make test cannot run yet:"
	for t in "${todo[@]}"; do
		echo "  - $t" >&2
	done
	exit 1
fi

#!/usr/bin/env bash
# The README's two commands. They work on a fresh Debian machine that has only the .NET SDK:
#
#   ./build.sh run    build the gateway (Release) and start it in Development on http://localhost:5000
#                     (ASPNETCORE_URLS or PORT change that). Without Redis__ConnectionString it starts
#                     its own redis-server (append-only, data in .data/redis/) and stops it on exit.
#   ./build.sh test   run every test suite (the .NET suites a second time on a Redis Cluster); the last line is
#                     "N passed, N failed, N skipped", summed over every pass.
#
# Helpers, used by the above and by .ci/run:
#   ./build.sh ensure-redis      install Debian's redis-server if it is missing
#   ./build.sh ensure-chromium   install Debian's chromium if it is missing (browser tests)
#   ./build.sh ensure-node       install Debian's nodejs and npm if they are missing (dashboard build, tests/js)
#   ./build.sh check-compose     install docker-compose if missing and validate docker-compose.yml
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$ROOT"

GATEWAY_DIR=src/RedisSync.Gateway
REDIS_DATA="$ROOT/.data/redis"
# Our own pid file (redis-server has no lock on its directory): two redis-servers on one
# append-only directory would corrupt it.
REDIS_PIDFILE="$REDIS_DATA/build-sh.pid"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The test summary lines are parsed below; keep them in English.
export DOTNET_CLI_UI_LANGUAGE=en

log() { printf '[build.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- packages ----------------------------------------------------------------------------

APT_UPDATED=""
apt_install() {
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "installing $* needs root or sudo"
    sudo=(sudo)
  fi
  # Once per run, and not at all when another step refreshed the lists in the last hour.
  if [ -z "$APT_UPDATED" ] && ! find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -60 2>/dev/null | grep -q .; then
    log "apt-get update"
    "${sudo[@]}" apt-get update -qq
  fi
  APT_UPDATED=1
  log "apt-get install $*"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  apt_install redis-server
}

# The gateway's build fetches the dashboard's SignalR browser client with npm, and tests/js runs on Node.
ensure_node() {
  command -v node >/dev/null && command -v npm >/dev/null && return 0
  apt_install nodejs npm
}

ensure_chromium() {
  command -v chromium >/dev/null && return 0
  apt_install chromium
}

check_compose() {
  command -v docker-compose >/dev/null || apt_install docker-compose
  docker-compose -f "$ROOT/docker-compose.yml" config -q
  # The cluster profile's services only count when the profile is named (compose 1.28+ knows profiles).
  docker-compose -f "$ROOT/docker-compose.yml" --profile cluster config -q
  log "docker-compose.yml is valid (default services and the cluster profile)"
}

# --- run ---------------------------------------------------------------------------------

# True when something accepts TCP connections on host:port (bash's /dev/tcp: no curl or ss needed).
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

REDIS_PID=""
GATEWAY_PID=""

stop_children() {
  if [ -n "$GATEWAY_PID" ] && kill -0 "$GATEWAY_PID" 2>/dev/null; then
    kill -TERM "$GATEWAY_PID" 2>/dev/null || true
    wait "$GATEWAY_PID" 2>/dev/null || true
  fi
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    log "stopping redis-server (pid $REDIS_PID)"
    kill -TERM "$REDIS_PID" 2>/dev/null || true   # SIGTERM: redis fsyncs the append-only file and exits
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  [ -z "$REDIS_PID" ] || rm -f "$REDIS_PIDFILE"
}

# Fails when another ./build.sh run's redis-server still uses .data/redis.
check_redis_data_free() {
  local other
  [ -f "$REDIS_PIDFILE" ] || return 0
  other=$(cat "$REDIS_PIDFILE")
  if [ "$(cat "/proc/$other/comm" 2>/dev/null)" = redis-server ]; then
    die "another ./build.sh run owns .data/redis (redis-server pid $other); stop it first, or give this one a Redis with Redis__ConnectionString"
  fi
}

# Starts redis-server on 127.0.0.1 (6379, or the next free port) with its data in .data/redis/,
# and points the gateway at it.
start_local_redis() {
  ensure_redis
  mkdir -p "$REDIS_DATA"
  local port=6379
  while listening 127.0.0.1 "$port"; do
    port=$((port + 1))
    [ "$port" -le 6479 ] || die "no free port between 6379 and 6479 for redis-server"
  done
  [ "$port" -eq 6379 ] || log "port 6379 is busy: starting redis-server on port $port instead"

  redis-server --bind 127.0.0.1 --port "$port" --dir "$REDIS_DATA" --appendonly yes \
    --daemonize no --logfile "$REDIS_DATA/redis.log" </dev/null &
  REDIS_PID=$!
  echo "$REDIS_PID" >"$REDIS_PIDFILE"

  local i
  for i in $(seq 200); do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || { tail -n 20 "$REDIS_DATA/redis.log" >&2 || true; die "redis-server exited at start"; }
    [ "$i" -lt 200 ] || die "redis-server did not answer PING within 20 s (log: .data/redis/redis.log)"
    sleep 0.1
  done
  REDIS_LOCAL="127.0.0.1:$port"
  export Redis__ConnectionString="$REDIS_LOCAL,abortConnect=false"
}

# The first of ASPNETCORE_URLS, with a wildcard host shown as localhost.
display_url() {
  local url=${ASPNETCORE_URLS%%;*}
  url=${url%/}
  printf '%s\n' "$url" | sed -E 's#://(\+|\*|0\.0\.0\.0|\[::\])(:|$)#://localhost\2#'
}

cmd_run() {
  export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
  [ -n "${ASPNETCORE_URLS:-}" ] || export ASPNETCORE_URLS="http://localhost:${PORT:-5000}"

  [ -n "${Redis__ConnectionString:-}" ] || check_redis_data_free
  ensure_node
  log "building $GATEWAY_DIR (Release)"
  dotnet build "$GATEWAY_DIR" -c Release -nologo -v quiet -tl:off
  local dll=("$ROOT/$GATEWAY_DIR"/bin/Release/net*/RedisSync.Gateway.dll)
  [ -f "${dll[0]}" ] || die "build produced no RedisSync.Gateway.dll"

  trap stop_children EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  REDIS_LOCAL=""
  [ -n "${Redis__ConnectionString:-}" ] || start_local_redis

  # The project directory is the content root: appsettings*.json and wwwroot are found there.
  # Started in the background so that a signal to this script runs the trap at once.
  (cd "$ROOT/$GATEWAY_DIR" && exec dotnet "${dll[0]}") </dev/null &
  GATEWAY_PID=$!

  local url hostport host port
  url=$(display_url)
  hostport=${url#*://}
  hostport=${hostport%%/*}
  host=${hostport%:*}
  port=${hostport##*:}
  [ "$port" != "$hostport" ] || port=80
  host=${host#[}
  host=${host%]}
  while ! listening "$host" "$port"; do
    if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
      local rc=0
      wait "$GATEWAY_PID" || rc=$?
      GATEWAY_PID=""
      die "the gateway exited at start (exit code $rc)"
    fi
    sleep 0.2
  done

  local dev_key=""
  if [ "$ASPNETCORE_ENVIRONMENT" = Development ]; then
    dev_key=$(sed -n 's/.*"Key": *"\([^"]*\)".*/\1/p' "$GATEWAY_DIR/appsettings.Development.json" | head -n 1)
  fi
  cat >&2 <<EOF

  RedisSync gateway ($ASPNETCORE_ENVIRONMENT, Release build) is running.
    API:      $url/api/v1/collections
    Swagger:  $url/swagger
    Health:   $url/health/ready
EOF
  [ -z "$dev_key" ] || printf '    API key:  %s   (header X-Api-Key; Development only)\n' "$dev_key" >&2
  if [ -n "$REDIS_LOCAL" ]; then
    printf '    Redis:    %s, started by build.sh (append-only, data in .data/redis/, log in .data/redis/redis.log)\n' "$REDIS_LOCAL" >&2
  else
    printf '    Redis:    from Redis__ConnectionString\n' >&2
  fi
  printf '  Press Ctrl+C to stop.\n\n' >&2

  local rc=0
  wait "$GATEWAY_PID" || rc=$?
  GATEWAY_PID=""
  exit "$rc"
}

# --- test --------------------------------------------------------------------------------

PASSED=0
FAILED=0
SKIPPED=0
CRASHED=()

# add_counts SUITE RC PASSED FAILED SKIPPED SUMMARIES
# A suite that exits non-zero without reporting a failure, or that printed no summary, crashed
# (build error, test host crash): it counts as one failure, so the total never looks green.
add_counts() {
  local suite=$1 rc=$2 p=$3 f=$4 s=$5 summaries=$6
  printf '%s: %d passed, %d failed, %d skipped (exit code %d)\n' "$suite" "$p" "$f" "$s" "$rc"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  SKIPPED=$((SKIPPED + s))
  if { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; } || [ "$summaries" -eq 0 ]; then
    printf '%s: crashed or reported no results; counted as 1 failure\n' "$suite"
    CRASHED+=("$suite")
    FAILED=$((FAILED + 1))
  fi
}

# The suites that must behave the same on one Redis and on a Redis Cluster; the second pass runs them on the
# shared 3+3 cluster the fixtures start (REDISSYNC_TEST_REDIS=cluster). Cluster/ and Topology/ start clusters of
# their own in the first pass.
CLUSTER_PASS_FILTER="FullyQualifiedName~RedisSync.Tests.Api.|FullyQualifiedName~RedisSync.Tests.Convergence.|FullyQualifiedName~RedisSync.Tests.Realtime.|FullyQualifiedName~RedisSync.Tests.Merge."

# dotnet_test_pass NAME LOG RESULTS_DIR [dotnet test arguments...]
dotnet_test_pass() {
  local name=$1 out=$2 results=$3 rc=0 counts
  shift 3
  # A hanging test is killed after 10 minutes (and reported) instead of eating CI's 90.
  mkdir -p "$results"
  REDISSYNC_TEST_CLEANUP_LOG="$results/cleanup-failures.log" dotnet test "$@" -c Release --no-build -nologo -tl:off \
    --logger "console;verbosity=minimal" --logger trx --results-directory "$results" \
    --blame-hang-timeout 10m --blame-hang-dump-type none 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
  # The console names only the exception type of a fixture that failed to shut down; its whole text is here.
  if [ -s "$results/cleanup-failures.log" ]; then
    printf '%s: fixtures that failed to shut down, in full:\n' "$name"
    cat "$results/cleanup-failures.log"
  fi
  # One summary line per test assembly ("Passed!", "Failed!" or "Skipped!"), e.g.
  # Passed!  - Failed:     0, Passed:    12, Skipped:     0, Total:    12, Duration: 3 s - RedisSync.Tests.dll (net10.0)
  counts=$(sed -nE 's/^ *[A-Za-z]+! +- Failed: +([0-9]+), Passed: +([0-9]+), Skipped: +([0-9]+), Total: .*/\2 \1 \3/p' "$out" |
    awk '{ p += $1; f += $2; s += $3; n++ } END { print p + 0, f + 0, s + 0, n + 0 }')
  # shellcheck disable=SC2086 # four numbers
  add_counts "$name" "$rc" $counts
}

run_dotnet_tests() {
  log "dotnet build RedisSync.sln (Release)"
  if ! dotnet build RedisSync.sln -c Release -nologo -tl:off -v minimal; then
    add_counts ".NET (build failed)" 1 0 0 0 0
    return
  fi
  log "dotnet test RedisSync.sln (a redis-server per fixture; Cluster/ and Topology/ on clusters of their own)"
  dotnet_test_pass ".NET" "$ROOT/TestResults/dotnet-test.log" "$ROOT/TestResults/dotnet" RedisSync.sln
  log "dotnet test tests/RedisSync.Tests on the shared Redis Cluster (Api, Convergence, Realtime, Merge)"
  REDISSYNC_TEST_REDIS=cluster dotnet_test_pass ".NET on Redis Cluster" "$ROOT/TestResults/dotnet-cluster-test.log" \
    "$ROOT/TestResults/dotnet-cluster" tests/RedisSync.Tests/RedisSync.Tests.csproj --filter "$CLUSTER_PASS_FILTER"
}

# tests/js is a Node project whose "npm test" runs node:test. Its summary lines are
# "# pass N", "# fail N", "# cancelled N", "# skipped N" (TAP reporter, the default when output
# is not a terminal) or the same after "ℹ " (spec reporter). Cancelled tests count as failed.
run_js_tests() {
  local dir="$ROOT/tests/js" out="$ROOT/TestResults/js-test.log" rc=0 counts
  [ -f "$dir/package.json" ] || return 0
  if grep -q playwright "$dir/package.json"; then ensure_chromium; fi
  log "npm test in tests/js"
  (
    cd "$dir"
    { npm ci --no-audit --no-fund || npm install --no-audit --no-fund; } && npm test
  ) </dev/null 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
  counts=$(awk '
    /^(# |ℹ )pass [0-9]+$/      { p += $NF; n++ }
    /^(# |ℹ )fail [0-9]+$/      { f += $NF }
    /^(# |ℹ )cancelled [0-9]+$/ { f += $NF }
    /^(# |ℹ )skipped [0-9]+$/   { s += $NF }
    END { print p + 0, f + 0, s + 0, n + 0 }' "$out")
  # shellcheck disable=SC2086 # four numbers
  add_counts "JavaScript" "$rc" $counts
}

cmd_test() {
  ensure_redis
  ensure_node
  rm -rf "$ROOT/TestResults"
  mkdir -p "$ROOT/TestResults"
  run_dotnet_tests
  run_js_tests
  [ ${#CRASHED[@]} -eq 0 ] || printf 'Crashed: %s\n' "${CRASHED[*]}"
  printf '%d passed, %d failed, %d skipped\n' "$PASSED" "$FAILED" "$SKIPPED"
  [ "$FAILED" -eq 0 ]
}

# -----------------------------------------------------------------------------------------

case "${1:-}" in
  run) cmd_run ;;
  test) cmd_test ;;
  ensure-redis) ensure_redis ;;
  ensure-chromium) ensure_chromium ;;
  ensure-node) ensure_node ;;
  check-compose) check_compose ;;
  *)
    echo "usage: ./build.sh run | test   (helpers: ensure-redis | ensure-chromium | check-compose)" >&2
    exit 2
    ;;
esac

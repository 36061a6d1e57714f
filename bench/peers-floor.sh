# A scenario file for ../shared/bench/peers.sh (EXTRA_SCENARIOS_FILE): "floor" runs bench/floor.ts, Burrow's
# transport with nothing on top, so one table shows how far Burrow sits from the floor of its own design:
#
#   EXTRA_SCENARIOS_FILE=bench/peers-floor.sh SCENARIOS="direct nginx ssh project floor" PROJECT_DIR=. ../shared/bench/peers.sh
scenario_floor() {
  local root=${PROJECT_DIR:-$PWD} http
  http=$(free_port)
  spawn floor node --import tsx "$root/bench/floor.ts" --http "127.0.0.1:$http" --origin "http://127.0.0.1:$ORIGIN_PORT"
  wait_http "http://127.0.0.1:$http/" "app.floor.test" 30 || { log "no answer through the floor tunnel"; return 1; }
  TARGET_URL="http://127.0.0.1:$http"
  TARGET_HOST="app.floor.test"
}

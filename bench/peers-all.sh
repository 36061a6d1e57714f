# A scenario file for ../shared/bench/peers.sh (EXTRA_SCENARIOS_FILE) with every extra scenario Burrow is compared
# with: the Node ecosystem's tunnel (localtunnel, from ../shared/bench/peers-node.sh) and Burrow's own floor
# (bench/peers-floor.sh). `npm run bench:peers` uses it.
_peers_all_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=/dev/null
source "${PEERS_NODE_FILE:-$_peers_all_dir/../../shared/bench/peers-node.sh}"
# shellcheck source=peers-floor.sh
source "$_peers_all_dir/peers-floor.sh"

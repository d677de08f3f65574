#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# `make run`: start hyperallocd in the foreground on its embedded default —
# three simulated guests running different workload traces — with the API
# on 127.0.0.1:8080 and every runtime file under build/run/.
set -eu

BUILD=${BUILD:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
run="$top/build/run"
mkdir -p "$run"

cat > "$run/hyperallocd.json" <<JSON
{
	"log_level": "info",
	"state_file": "$run/state.json",
	"runtime_dir": "$run",
	"api": {
		"tcp": "127.0.0.1:8080",
		"unix": "$run/hyperallocd.sock",
		"token_file": "$run/api-token"
	},
	"grpc": { "tcp": "127.0.0.1:8081", "unix": "$run/grpc.sock" },
	"sim": {
		"socket": "$run/sim.sock",
		"simguest": "$top/$BUILD/tools/ha-simguest",
		"trace_dir": "$top/tools/traces",
		"guests": [
			{ "name": "build-vm", "memory": "1G", "trace": "clang-build",
			  "vcpus": 2, "time_scale": 20, "loop": true },
			{ "name": "bursty-vm", "memory": "1G", "trace": "bursty",
			  "vcpus": 2, "time_scale": 5, "loop": true },
			{ "name": "steady-vm", "memory": "512M", "trace": "steady",
			  "vcpus": 1, "time_scale": 1, "loop": true }
		]
	},
	"policy": { "name": "static", "tick_ms": 1000, "host_reserve": "1G" }
}
JSON

"$top/$BUILD/daemon/hyperallocd" --config "$run/hyperallocd.json" --check-config

# The token exists once the daemon has started; create it now so that it
# can be printed before the daemon's log takes over the terminal.
if [ ! -s "$run/api-token" ]; then
	umask 077
	head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$run/api-token"
	echo >> "$run/api-token"
fi
token=$(cat "$run/api-token")
hactl="$top/$BUILD/tools/hactl --socket $run/hyperallocd.sock"

cat <<TXT

hyperallocd is starting with three simulated guests (build-vm, bursty-vm,
steady-vm). Runtime files are in build/run/:
  config      $run/hyperallocd.json
  API token   $run/api-token
  API socket  $run/hyperallocd.sock
  state file  $run/state.json

Open the dashboard: http://127.0.0.1:8080/ (changes need the API token)

Try, in another terminal:
  curl -s http://127.0.0.1:8080/vms | python3 -m json.tool
  curl -s http://127.0.0.1:8080/vms/build-vm/memory
  curl -s -X PUT -H 'Authorization: Bearer $token' \\
       --json '{"target_bytes": 536870912}' http://127.0.0.1:8080/vms/build-vm/memory
  curl -sN http://127.0.0.1:8080/events
  $hactl vms
  $hactl set build-vm --target 512M
  $hactl release build-vm
  $hactl watch
  /usr/bin/python3 tools/grpc-example.py vms          # gRPC on 127.0.0.1:8081
  /usr/bin/python3 tools/grpc-example.py --token-file $run/api-token set build-vm 536870912

Stop with Ctrl-C.

TXT
exec "$top/$BUILD/daemon/hyperallocd" --config "$run/hyperallocd.json"

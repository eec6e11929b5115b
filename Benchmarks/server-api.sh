#!/usr/bin/env bash
# Keel's HTTP API under load, on this machine, in one run:
#   1. requests a second for GET /v1/runs/{id} (a 5-step run, SQLite, key checked every request)
#      against the floor of the same server answering GET /healthz (Hummingbird, no key, no store);
#   2. the latency of a live event: from a step's commit (its completed_at in the journal) to its
#      arrival at an SSE client of GET /v1/runs/{id}/events, while the server's worker runs a
#      paced report.
# Needs wrk (apt-get install wrk) and python3. Builds keel in release first.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product keel > /dev/null
keel="$PWD/.build/release/keel"
work="$(mktemp -d)"
trap 'kill "$server" 2> /dev/null || true; rm -rf "$work"' EXIT
cd "$work"
key="$("$keel" keys create --db keel.db --tenant bench --name bench --role operator 2> /dev/null)"
"$keel" agent --db keel.db --tenant bench --run-id bench --tools calculator "What is 6 times 7?" > /dev/null
port=18437
"$keel" serve --db keel.db --port "$port" --workers 1 --requests-per-second 100000 2> serve.log &
server=$!
for _ in $(seq 100); do grep -q "listening" serve.log && break; sleep 0.1; done
grep -q "listening" serve.log || { cat serve.log; exit 1; }

echo "== GET /healthz (floor: the server without a key or a store)"
wrk -t2 -c16 -d10s "http://127.0.0.1:$port/healthz" | grep -E "Requests/sec|Latency"
echo "== GET /v1/runs/bench (the key checked, the run and its journal read)"
wrk -t2 -c16 -d10s -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/runs/bench" | grep -E "Requests/sec|Latency|Non-2xx"

echo "== live event latency: commit → SSE client (a report of 40 sections, 50 ms apart)"
run="$(curl -s -H "Authorization: Bearer $key" -d '{"workflow":"report","input":{"topic":"latency","sections":40,"contextTokens":200,"paceMilliseconds":50,"model":{"spec":"writer"}}}' "http://127.0.0.1:$port/v1/runs" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
python3 - "$port" "$key" "$run" <<'PY'
import http.client, json, sqlite3, statistics, sys, time
port, key, run = sys.argv[1], sys.argv[2], sys.argv[3]
connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
connection.request("GET", f"/v1/runs/{run}/events", headers={"Authorization": f"Bearer {key}"})
response = connection.getresponse()
arrived, event, data = {}, None, None
while True:
    line = response.readline()
    if not line:
        break
    line = line.decode().rstrip("\n")
    if line.startswith("event: "):
        event = line[7:]
    elif line.startswith("data: "):
        data = json.loads(line[6:])
    elif line == "" and event:
        if event == "run":
            break
        if data.get("status") == "completed":
            arrived[data["address"]] = time.time()
        event = None
database = sqlite3.connect("keel.db")
latencies = []
for scope, sequence, completed in database.execute("SELECT scope, sequence, completed_at FROM journal WHERE run_id = ? AND status = 'completed'", (run,)):
    address = f"{scope}/{sequence}" if scope else str(sequence)
    if address in arrived and completed:
        latencies.append((arrived[address] - completed) * 1000)
latencies.sort()
print(f"events: {len(latencies)}  median {statistics.median(latencies):.1f} ms  p90 {latencies[int(len(latencies) * 0.9)]:.1f} ms  max {latencies[-1]:.1f} ms  (the server reads the store every 100 ms)")
PY

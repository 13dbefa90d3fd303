#!/usr/bin/env bash
# bench-serving.sh measures serving latency and throughput (make bench-serving).
#
# It starts `lantern up` with two models (a 100-tree demand-forecast stand-in
# and an MLP classifier, from bench/models), and the floor server (bench/floor:
# a fixed answer over gRPC and HTTP), then drives batch-1 requests at
# concurrency 1 and 32 with hey (REST) and ghz (gRPC), all on this machine in
# the same run, and prints p50/p99/requests-per-second with the ratios to the
# floor. The raw engine time comes from `go test -bench Engine ./bench/`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$(scripts/tools.sh env | sed 's/^/export /')"
GHZ="$(scripts/tools.sh ghz)"
HEY="$(scripts/tools.sh hey)"
N1="${BENCH_N1:-3000}"     # requests at concurrency 1
N32="${BENCH_N32:-30000}"  # requests at concurrency 32

WORK="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done; echo "timeout waiting for $1" >&2; exit 1; }

echo "building..." >&2
go build -o "$WORK/lantern" ./cmd/lantern
go build -o "$WORK/floor" ./bench/floor
go run ./bench/models -dir "$WORK"

HTTP=$(free_port); GRPC=$(free_port); FHTTP=$(free_port); FGRPC=$(free_port)
"$WORK/lantern" up --insecure --data-dir "$WORK/data" --http-addr "127.0.0.1:$HTTP" --grpc-addr "127.0.0.1:$GRPC" \
  --log-level warn --ort-lib "$LANTERN_ORT_LIB" 2>"$WORK/lantern.log" &
pids+=($!)
"$WORK/floor" --http-addr "127.0.0.1:$FHTTP" --grpc-addr "127.0.0.1:$FGRPC" 2>"$WORK/floor.log" &
pids+=($!)
wait_http "http://127.0.0.1:$HTTP/readyz"
for m in forest mlp; do
  "$WORK/lantern" models register --registry "http://127.0.0.1:$HTTP" --name "$m" --file "$WORK/$m.onnx" --alias production >/dev/null 2>&1
done
wait_http "http://127.0.0.1:$HTTP/v2/models/forest/ready"
wait_http "http://127.0.0.1:$HTTP/v2/models/mlp/ready"

python3 - "$WORK" <<'PY'
import json, sys
work = sys.argv[1]
row = [round((i % 97) / 97, 4) for i in range(30)]
rest = {"inputs": [{"name": "features", "shape": [1, 30], "datatype": "FP32", "data": row}]}
json.dump(rest, open(f"{work}/rest.json", "w"))
for m in ("forest", "mlp"):
    g = {"model_name": m, "inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 30], "contents": {"fp32_contents": row}}]}
    json.dump(g, open(f"{work}/grpc-{m}.json", "w"))
PY

results="$WORK/results.txt"
: >"$results"
run_hey() { # name url c n
  "$HEY" -n "$4" -c "$3" -m POST -T application/json -D "$WORK/rest.json" "$2" >"$WORK/hey.out"
  python3 - "$1" "$3" "$WORK/hey.out" >>"$results" <<'PY'
import re, sys
name, c, path = sys.argv[1], sys.argv[2], sys.argv[3]
t = open(path).read()
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
p = {int(k): float(v) * 1e6 for k, v in re.findall(r"(\d+)%+ in ([\d.]+) secs", t)}
codes = re.findall(r"\[(\d+)\]\s+(\d+) responses", t)
bad = sum(int(n) for code, n in codes if code != "200")
print(f"rest {name} {c} {p[50]:.0f} {p[99]:.0f} {rps:.0f} {bad}")
PY
}
run_ghz() { # name addr c n model
  "$GHZ" --insecure --call inference.GRPCInferenceService/ModelInfer -D "$WORK/grpc-$5.json" -n "$4" -c "$3" \
    --connections "$(( $3 < 4 ? 1 : 4 ))" --format json "$2" >"$WORK/ghz.json"
  python3 - "$1" "$3" "$WORK/ghz.json" >>"$results" <<'PY'
import json, sys
name, c, path = sys.argv[1], sys.argv[2], sys.argv[3]
d = json.load(open(path))
p = {x["percentage"]: x["latency"] / 1e3 for x in d["latencyDistribution"]}
bad = sum(v for k, v in d.get("statusCodeDistribution", {}).items() if k != "OK")
print(f"grpc {name} {c} {p[50]:.0f} {p[99]:.0f} {d['rps']:.0f} {bad}")
PY
}

for c in 1 32; do
  n=$N1; [ "$c" = 32 ] && n=$N32
  echo "concurrency $c..." >&2
  run_hey floor "http://127.0.0.1:$FHTTP/" "$c" "$n"
  run_ghz floor "127.0.0.1:$FGRPC" "$c" "$n" forest
  for m in forest mlp; do
    run_hey "$m" "http://127.0.0.1:$HTTP/v2/models/$m/infer" "$c" "$n"
    run_ghz "$m" "127.0.0.1:$GRPC" "$c" "$n" "$m"
  done
done

echo "engine benchmarks..." >&2
go test -run '^$' -bench Engine -benchtime 3000x ./bench/ >"$WORK/engine.txt"
# onnx-go lives in its own module (Lantern does not depend on it); it
# registers the same protobuf names as Lantern's ONNX types, hence the env.
(cd bench/onnxgo && GOLANG_PROTOBUF_REGISTRATION_CONFLICT=warn go test -run '^$' -bench MLP -benchtime 1000x . >"$WORK/onnxgo.txt")

python3 - "$results" "$WORK/engine.txt" "$WORK/onnxgo.txt" <<'PY'
import re, sys
rows = [l.split() for l in open(sys.argv[1])]
eng = {}
for l in open(sys.argv[2]):
    m = re.match(r"BenchmarkEngine/(\w+)/(\w+)/batch=(\d+)-\d+\s+\d+\s+([\d.]+) ns/op", l)
    if m:
        eng[(m[1], m[2], int(m[3]))] = float(m[4]) / 1e3
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
import os
print(f"Machine: {cpu}, {os.cpu_count()} cores; client, server and floor share them. Latencies in µs.\n")
print("| proto | target | conc | p50 | p99 | req/s | errors | p50 − floor p50 | req/s ÷ floor |")
print("|---|---|---|---|---|---|---|---|---|")
floor = {(r[0], r[2]): r for r in rows if r[1] == "floor"}
for r in rows:
    f = floor[(r[0], r[2])]
    extra = int(r[3]) - int(f[3])
    print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[6]} | {extra if r[1] != 'floor' else '–'} | {int(r[5]) / int(f[5]):.2f} |")
print("\nEngine time for one inference (µs), 1 thread:\n")
print("| model | batch | native | onnxruntime | native ÷ onnxruntime |")
print("|---|---|---|---|---|")
for m in ("forest", "mlp"):
    for b in (1, 1024):
        n, o = eng.get((m, "native", b)), eng.get((m, "onnxruntime", b))
        if n and o:
            print(f"| {m} | {b} | {n:.1f} | {o:.1f} | {n / o:.2f} |")
print("\nThe same MLP (30→64→32→3, fixed batch) on three engines (µs):\n")
print("| batch | native | onnxruntime | onnx-go |")
print("|---|---|---|---|")
og = {}
for l in open(sys.argv[3]):
    m = re.match(r"BenchmarkMLP/([\w-]+)/batch=(\d+)-\d+\s+\d+\s+([\d.]+) ns/op", l)
    if m:
        og[(m[1], int(m[2]))] = float(m[3]) / 1e3
for b in (1, 1024):
    print(f"| {b} | {og.get(('native', b), 0):.1f} | {og.get(('onnxruntime', b), 0):.1f} | {og.get(('onnx-go', b), 0):.1f} |")
print("\nTargets: p50 within floor + engine (native, batch 1) + 100 µs:")
for r in rows:
    if r[1] == "floor" or r[2] != "1":
        continue
    f = floor[(r[0], r[2])]
    budget = int(f[3]) + eng.get((r[1], "native", 1), 0) + 100
    print(f"  {r[0]} {r[1]}: p50 {r[3]} µs, budget {budget:.0f} µs: {'met' if int(r[3]) <= budget else 'MISSED'}")
for r in rows:
    if r[0] == "grpc" and r[1] != "floor" and r[2] == "32":
        ratio = int(r[5]) / int(floor[("grpc", "32")][5])
        print(f"  gRPC throughput at 32, {r[1]}: {ratio:.0%} of the floor (target ≥ 70%): {'met' if ratio >= 0.7 else 'MISSED'}")
PY

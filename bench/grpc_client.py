#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Unary gRPC load on hyperallocd: GetVMMemory from K threads for N
seconds, each thread one call at a time over its own channel (its own
HTTP/2 connection), as a handful of orchestrator clients would. Prints

    grpc_calls=... grpc_errors=... grpc_p50_ms=...
    grpc_rps=... grpc_p99_ms=...

with the throughput and the 99th percentile latency on the last line;
bench/api runs it next to its HTTP measurement and takes both figures.

Standard library and Debian's python3-grpcio only: the request
(GetVMMemoryRequest, one string field) is encoded here by hand, and the
answer is only checked to be a non-empty VMMemory, so no generated code
is needed. Use run() from Python, or the command line (--help).
"""

import argparse
import sys
import threading
import time

import grpc

METHOD = "/hyperalloc.v1.HyperAlloc/GetVMMemory"


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def get_vm_memory_request(vm):
    """GetVMMemoryRequest{id: vm} in protobuf wire format (field 1,
    length-delimited)."""
    raw = vm.encode()
    return b"\x0a" + _varint(len(raw)) + raw


def _percentile(sorted_ms, q):
    if not sorted_ms:
        return 0.0
    i = min(len(sorted_ms) - 1, int(q * len(sorted_ms)))
    return sorted_ms[i]


def run(target, vm, seconds=5.0, threads=2, token=None, warmup=0.5):
    """Call GetVMMemory(@vm) on @target ("host:port" or "unix:/path") from
    @threads threads for @seconds (after @warmup seconds not counted).
    Returns a dict: rps, p50_ms, p99_ms, calls, errors (the first error
    text in "error" if there were any)."""
    request = get_vm_memory_request(vm)
    metadata = [("authorization", "Bearer " + token)] if token else None
    lock = threading.Lock()
    latencies = []
    errors = []
    start_evt = threading.Event()
    window = {}

    def worker():
        channel = grpc.insecure_channel(target)
        call = channel.unary_unary(METHOD)
        mine = []
        bad = 0
        first_error = None
        try:
            grpc.channel_ready_future(channel).result(timeout=10)
            start_evt.wait()
            t_begin, t_end = window["begin"], window["end"]
            while True:
                t0 = time.monotonic()
                if t0 >= t_end:
                    break
                try:
                    answer = call(request, metadata=metadata, timeout=10)
                    if not answer:
                        raise ValueError("empty VMMemory answer")
                except (grpc.RpcError, ValueError) as e:
                    bad += 1
                    if first_error is None:
                        first_error = (e.details() if isinstance(
                            e, grpc.RpcError) else str(e))
                    continue
                t1 = time.monotonic()
                if t0 >= t_begin:
                    mine.append((t1 - t0) * 1000.0)
        except grpc.FutureTimeoutError:
            first_error = "cannot connect to %s" % target
            bad += 1
        finally:
            channel.close()
        with lock:
            latencies.extend(mine)
            if bad:
                errors.append((bad, first_error))

    pool = [threading.Thread(target=worker, daemon=True)
            for _ in range(threads)]
    for t in pool:
        t.start()
    # Connect first, then start everyone at once.
    time.sleep(0.2)
    now = time.monotonic()
    window["begin"] = now + warmup
    window["end"] = now + warmup + seconds
    start_evt.set()
    for t in pool:
        t.join(seconds + warmup + 30)

    latencies.sort()
    n_err = sum(b for b, _ in errors)
    result = {
        "calls": len(latencies),
        "errors": n_err,
        "rps": len(latencies) / seconds if seconds > 0 else 0.0,
        "p50_ms": _percentile(latencies, 0.50),
        "p99_ms": _percentile(latencies, 0.99),
    }
    if errors:
        result["error"] = errors[0][1]
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="GetVMMemory load over gRPC; prints grpc_rps= and "
        "grpc_p99_ms= on its last line")
    ap.add_argument("--target", default="127.0.0.1:8081",
                    help="gRPC address, host:port or unix:/path "
                    "(default 127.0.0.1:8081, as under make run)")
    ap.add_argument("--vm", required=True, help="VM name or UUID")
    ap.add_argument("--seconds", type=float, default=5.0,
                    help="measured time (default 5)")
    ap.add_argument("--threads", type=int, default=2,
                    help="client threads, one channel each (default 2)")
    ap.add_argument("--token-file",
                    help="send this API token (reads do not need one)")
    a = ap.parse_args(argv)
    token = None
    if a.token_file:
        with open(a.token_file) as f:
            token = f.read().strip()
    r = run(a.target, a.vm, a.seconds, max(1, a.threads), token)
    print("grpc_calls=%d grpc_errors=%d grpc_p50_ms=%.3f"
          % (r["calls"], r["errors"], r["p50_ms"]))
    if r["errors"]:
        print("grpc: %d calls failed, first: %s"
              % (r["errors"], r.get("error")), file=sys.stderr)
    print("grpc_rps=%.0f grpc_p99_ms=%.3f" % (r["rps"], r["p99_ms"]))
    # Every call failing is a failed measurement, not a figure.
    return 1 if r["calls"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())

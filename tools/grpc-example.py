#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A short example client of hyperallocd's gRPC API (proto/hyperalloc.proto),
for people writing their own orchestrator in Python, Go or Java.

It needs Debian's python3-grpcio and python3-protobuf, and protoc-c (the
build uses it anyway) to read the .proto: no generated code is kept.

  grpc-example.py [--target 127.0.0.1:8081] [--token-file F] vms
  grpc-example.py ... show VM
  grpc-example.py ... set VM TARGET_BYTES
  grpc-example.py ... watch
"""

import argparse
import os
import subprocess
import sys
import tempfile

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf import json_format

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.environ.get("HYPERALLOC_PROTO",
                       os.path.join(HERE, "..", "proto", "hyperalloc.proto"))
SERVICE = "hyperalloc.v1.HyperAlloc"


def service_and_classes():
    """The service descriptor and a message-class factory, from the .proto."""
    with tempfile.TemporaryDirectory() as tmp:
        desc = os.path.join(tmp, "hyperalloc.desc")
        subprocess.run(["protoc-c", "--descriptor_set_out=" + desc,
                        "--proto_path=" + os.path.dirname(PROTO), PROTO],
                       check=True)
        fds = descriptor_pb2.FileDescriptorSet()
        with open(desc, "rb") as f:
            fds.ParseFromString(f.read())
    pool = descriptor_pool.DescriptorPool()
    for fd in fds.file:
        pool.Add(fd)
    get = getattr(message_factory, "GetMessageClass", None) or \
        message_factory.MessageFactory(pool).GetPrototype
    return pool.FindServiceByName(SERVICE), get


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", default="127.0.0.1:8081",
                    help="host:port or unix:/path (default %(default)s)")
    ap.add_argument("--token-file", help="API token, needed for 'set' over TCP")
    ap.add_argument("command", choices=["vms", "show", "set", "watch"])
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()

    service, get_class = service_and_classes()
    channel = grpc.insecure_channel(a.target)
    meta = None
    if a.token_file:
        with open(a.token_file) as f:
            meta = [("authorization", "Bearer " + f.read().strip())]

    def call(name, **fields):
        m = service.methods_by_name[name]
        req_cls, resp_cls = get_class(m.input_type), get_class(m.output_type)
        make = channel.unary_stream if m.server_streaming else \
            channel.unary_unary
        stub = make("/%s/%s" % (SERVICE, name),
                    request_serializer=lambda x: x.SerializeToString(),
                    response_deserializer=resp_cls.FromString)
        return stub(req_cls(**fields), metadata=meta)

    def show(msg):
        print(json_format.MessageToJson(msg, preserving_proto_field_name=True))

    try:
        if a.command == "vms":
            for vm in call("ListVMs").vms:
                print("%-16s %-14s %-10s %6d MiB of %d MiB" % (
                    vm.id, vm.mechanism, vm.state,
                    vm.memory.current_bytes >> 20, vm.memory.max_bytes >> 20))
        elif a.command == "show":
            show(call("GetVMMemory", id=a.args[0]))
        elif a.command == "set":
            show(call("SetVMMemory", id=a.args[0],
                      target_bytes=int(a.args[1])))
        else:
            for ev in call("WatchEvents"):
                print(ev.seq, ev.type, ev.vm, ev.message)
    except grpc.RpcError as e:
        print("grpc-example: %s: %s" % (e.code().name, e.details()),
              file=sys.stderr)
        return 1
    except IndexError:
        ap.error("%s needs more arguments" % a.command)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3 -B
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Write the seed corpora of the fuzz harnesses (tests/fuzz/fuzz_*.c) into
# tests/fuzz/corpus/<target>/seed-*: small valid inputs of each format.
# Regression seeds (tests/fuzz/corpus/<target>/regress-*) are kept as
# found and not written here. Run from anywhere; rewrites the seeds.
import os
import struct

TOP = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(TOP, "corpus")

HA_MAGIC = 0x314C4148
HARD_MARK = 0x48415244484152FF
CHILD_FRAMES = 512
TREE_CHILDREN = 8


def align(v, a=64):
    return (v + a - 1) // a * a


def region(children, base=1024, hard=(), soft=(), used=None, reserved=()):
    """A region of @children huge frames as a legal guest writes it.
    @used maps a child to its number of allocated 4 KiB frames (taken
    from the bottom of its bitfield)."""
    used = used or {}
    trees = (children + TREE_CHILDREN - 1) // TREE_CHILDREN
    t_off = 64
    c_off = align(t_off + trees * 2)
    b_off = align(c_off + trees * TREE_CHILDREN * 2)
    total = b_off + children * 64
    buf = bytearray(total)
    struct.pack_into("<IHHIIQQQQQQ", buf, 0, HA_MAGIC, 1, 64, TREE_CHILDREN,
                     CHILD_FRAMES, base, children * CHILD_FRAMES, t_off,
                     c_off, b_off, total)
    for t in range(trees):
        free = 0
        for s in range(TREE_CHILDREN):
            c = t * TREE_CHILDREN + s
            if c >= children:
                word = 0x4000  # padding: allocated forever
            elif c in hard:
                word = 0xC000
                struct.pack_into("<Q", buf, b_off + c * 64, HARD_MARK)
            else:
                n = used.get(c, 0)
                word = (CHILD_FRAMES - n) | (0x8000 if c in soft else 0)
                free += CHILD_FRAMES - n
                for i in range(n):
                    off = b_off + c * 64 + (i // 64) * 8
                    row = struct.unpack_from("<Q", buf, off)[0]
                    struct.pack_into("<Q", buf, off, row | 1 << (i % 64))
            struct.pack_into("<H", buf, c_off + c * 2, word)
        tw = free | (0x2000 | 1 << 14 if t in reserved else 0)
        struct.pack_into("<H", buf, t_off + t * 2, tw)
    return bytes(buf)


def attach_seed(flags, meta_frame, ram_frames, meta):
    return (struct.pack("<BH", flags, meta_frame) +
            struct.pack("<I", ram_frames)[:3] + meta)


def pb_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_int(field, v):
    return pb_varint(field << 3) + pb_varint(v)


def pb_str(field, s):
    s = s.encode() if isinstance(s, str) else s
    return pb_varint(field << 3 | 2) + pb_varint(len(s)) + s


def pb_double(field, v):
    return pb_varint(field << 3 | 1) + struct.pack("<d", v)


SIM_MAGIC = 0x4D495348


def sim_hdr(t):
    return struct.pack("<IHH", SIM_MAGIC, 1, t)


def sim_hello(name=b"vm1", uuid=b"0b9e0f2c-3c7d-4a51-9f4e-7f4f5d2a9c11",
              ram=256 << 20, meta_offset=0, meta_len=4 << 20, flags=0):
    return (sim_hdr(1) + name.ljust(64, b"\0") + uuid.ljust(37, b"\0") +
            b"steady".ljust(64, b"\0") + b"\0" * 3 +
            struct.pack("<IIQQQII", 2, 1234, ram, meta_offset, meta_len,
                        flags, 0))


SEEDS = {
    "host_attach": [
        attach_seed(0, 0, 1024 + 16 * 512, region(16)),
        attach_seed(2, 0, 0, region(9, hard={1, 8}, soft={3},
                                    used={0: 7, 5: 512})),
        attach_seed(0, 0, 2048 + 24 * 512,
                    region(24, base=2048, soft={4, 5}, reserved={1},
                           used={9: 100})),
        attach_seed(3, 0, 0, region(8)[:64]),
        attach_seed(3, 0, 0, region(1, hard={0})),
    ],
    "host_ops": [
        # 16 children, 1 CPU, no pokes; reclaim, scan, return, install
        bytes([15, 0, 0, 0, 5, 4, 2, 2, 3, 1, 1, 4, 4, 3, 0, 0, 10, 9, 4]),
        # 9 children, 2 CPUs, one poke of a child word, then operations
        bytes([8, 1, 1, 40, 0, 0x80, 0x01, 0, 8, 4, 5, 6, 0, 0, 0x40, 2, 8,
               3, 5]),
        # failing discards, then populates, quarantine
        bytes([31, 3, 0, 0x18, 0, 3, 1, 0, 4, 0x28, 2, 3, 3, 1, 9, 4]),
        # hard marks planted in bitfields, then reclaim and return
        bytes([3, 0, 0, 7, 1, 7, 2, 0, 2, 2, 4, 4, 3, 1, 1, 1]),
    ],
    "http_json": [
        b"\0" + b'{"target_bytes": 1073741824}',
        b"\0" + b'{"min_bytes": 0, "max_bytes": 4294967296, "shares": 100,'
        b' "auto_reclaim": true}',
        b"\0" + b'{"target_bytes": null}',
        b"\1" + b'{"name": "proportional", "params": {"step": 0.25}}',
        b"\1" + b'{"overcommit_ratio": 1.5, "host_reserve_bytes": 536870912,'
        b' "tick_ms": 1000}',
        b"\1" + b'{"overcommit_ratio": 2}',
        b"\0" + b'{"target_bytes": 99999999999999999999}',
        b"\1" + b'{"overcommit_ratio": 1e999}',
    ],
    "sim_proto": [
        sim_hello(),
        sim_hello(name=b"a.b_c-9", ram=32 << 20, meta_offset=4096,
                  meta_len=1 << 20, flags=3),
        sim_hdr(4) + struct.pack("<QQ", 1, 3),
        sim_hdr(6) + struct.pack("<QII", 2, 3, 0) +
        struct.pack("<QQQ", 0, 5, 7),
        sim_hdr(6) + struct.pack("<QII", 3, 0, 0),
        sim_hdr(8) + struct.pack("<11QII", 100, 1 << 20, 2 << 20, 4, 9000,
                                 10, 0, 0, 0, 500, 1000, 0, 0),
        sim_hdr(9),
    ],
    "grpc_map": [
        b"\0",
        b"\1" + pb_str(1, "vm1"),
        b"\2" + pb_str(1, "vm1") + pb_int(2, 1 << 30) + pb_int(5, 100) +
        pb_int(6, 1),
        b"\2" + pb_str(1, "0b9e0f2c-3c7d-4a51-9f4e-7f4f5d2a9c11") +
        pb_int(3, 0) + pb_int(4, 1 << 33),
        b"\3" + pb_str(1, "proportional") + pb_str(2, '{"step": 0.25}') +
        pb_double(3, 1.5) + pb_int(4, 1 << 29) + pb_int(5, 1000),
        b"\4" + pb_int(1, 42),
        b"\4" + pb_int(1, 42) + pb_str(2, "0123456789abcdef"),
    ],
}

# The same operations, with guest writes inside them (one byte per host
# callback: odd bytes write a word).
SEEDS["host_race"] = SEEDS["host_ops"]

for target, seeds in SEEDS.items():
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for i, s in enumerate(seeds):
        with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
            f.write(s)

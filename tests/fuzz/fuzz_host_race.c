// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer harness: lib/ host operations with the guest writing in the
 * middle of them. The harness of fuzz_host_ops.c, built with FUZZ_RACE
 * (see there): each callback of the host lets the input write a word of
 * the region.
 */
#define FUZZ_RACE 1
#include "fuzz_host_ops.c"

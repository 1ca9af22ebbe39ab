// l5_dense4: dense, 1 -> 1 channels; method exact: 0 adders
// front end: the whole frame as one vector; parallel datapath: 11 nodes, 5 adder levels, no multipliers
// ONNX node(s): /dense4/Gemm
#ifndef HLSGEN_L5_DENSE4_H
#define HLSGEN_L5_DENSE4_H

#include <ap_int.h>
#include <hls_stream.h>

#include "hlsgen_ops.h"

void l5_dense4(hls::stream<ap_uint<8> >& in, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
    // the whole input frame (raw values), oldest beat first
    ap_int<8> buf[1][1];
#pragma HLS ARRAY_PARTITION variable=buf complete dim=0
l5_dense4_load:
    for (int i = 0; i < 1; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<8> beat = in.read();
        for (int j = 0; j + 1 < 1; j++) {
#pragma HLS UNROLL
            for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
                buf[j][ch] = buf[j + 1][ch];
            }
        }
        buf[0][0] = (ap_int<8>)((ap_int<8>)beat.range(7, 0));
    }
    ap_uint<8> result = 0;
    const ap_int<8> n0 = buf[0][0];
    const ap_int<11> n1 = hlsgen_sub<11>(n0, 3, n0, 1);
    const ap_int<18> n2 = hlsgen_nadd<18>(n0, 6, n0, 9);
    const ap_int<23> n3 = hlsgen_sub<23>(n0, 12, n0, 15);
    const ap_int<30> n4 = hlsgen_sub<30>(n0, 22, n0, 18);
    const ap_int<33> n5_t = hlsgen_shl<33>(n0, 24);
    const ap_int<33> n5 = hlsgen_offset<33>(n5_t, 896062540);
    const ap_int<18> n6 = hlsgen_add<18>(n1, 0, n2, 0);
    const ap_int<30> n7 = hlsgen_add<30>(n3, 0, n4, 0);
    const ap_int<30> n8 = hlsgen_add<30>(n6, 0, n7, 0);
    const ap_int<33> n9 = hlsgen_add<33>(n8, 0, n5, 0);
    const ap_int<9> n10_q = hlsgen_shr<9>(n9, 24);
    const ap_int<9> n10 = hlsgen_clamp<9>(n10_q, -128, 127);

    result.range(7, 0) = (ap_uint<8>)n10;

    out.write(result);
}

#endif

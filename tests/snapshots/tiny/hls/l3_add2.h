// l3_add2: add, 1 -> 1 channels (maxpool1_out + res2_out)
// front end: one beat of each input; parallel datapath: 9 nodes, 4 adder levels, no multipliers
// ONNX node(s): /add2/Add
#ifndef HLSGEN_L3_ADD2_H
#define HLSGEN_L3_ADD2_H

#include <ap_int.h>
#include <hls_stream.h>

#include "hlsgen_ops.h"

void l3_add2(hls::stream<ap_uint<8> >& in_a, hls::stream<ap_uint<8> >& in_b, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
l3_add2_pixels:
    for (int i = 0; i < 1; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<8> beat_a = in_a.read();
        const ap_uint<8> beat_b = in_b.read();
        ap_int<9> xa[1];
        ap_int<9> xb[1];
#pragma HLS ARRAY_PARTITION variable=xa complete
#pragma HLS ARRAY_PARTITION variable=xb complete
        xa[0] = (ap_int<9>)((ap_uint<8>)beat_a.range(7, 0));

        xb[0] = (ap_int<9>)((ap_uint<8>)beat_b.range(7, 0));

        ap_uint<8> result = 0;
        const ap_int<9> n0 = xa[0];
        const ap_int<9> n1 = xb[0];
        const ap_int<12> n2 = hlsgen_add<12>(n0, 0, n0, 2);
        const ap_int<15> n3 = hlsgen_add<15>(n0, 5, n1, 0);
        const ap_int<16> n4 = hlsgen_add<16>(n1, 2, n1, 6);
        const ap_int<15> n5 = hlsgen_add<15>(n2, 0, n3, 0);
        const ap_int<16> n6_t = hlsgen_shl<16>(n4, 0);
        const ap_int<16> n6 = hlsgen_offset<16>(n6_t, 8248);
        const ap_int<17> n7 = hlsgen_add<17>(n5, 0, n6, 0);
        const ap_int<10> n8_q = hlsgen_shr<10>(n7, 7);
        const ap_int<10> n8 = hlsgen_clamp<10>(n8_q, 0, 255);

        result.range(7, 0) = (ap_uint<8>)n8;

        out.write(result);
    }
}

#endif

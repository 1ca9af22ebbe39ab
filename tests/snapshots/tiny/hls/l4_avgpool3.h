// l4_avgpool3: avgpool, 1 -> 1 channels
// front end: a running sum of the raw values per channel over the frame; parallel datapath: 4 nodes, no multipliers
// ONNX node(s): /avgpool3/AveragePool
#ifndef HLSGEN_L4_AVGPOOL3_H
#define HLSGEN_L4_AVGPOOL3_H

#include <ap_int.h>
#include <hls_stream.h>

#include "hlsgen_ops.h"

void l4_avgpool3(hls::stream<ap_uint<8> >& in, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
    ap_int<9> sum[1];
#pragma HLS ARRAY_PARTITION variable=sum complete
l4_avgpool3_reduce:
    for (int i = 0; i < 1; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<8> beat = in.read();
        ap_int<9> px[1];
#pragma HLS ARRAY_PARTITION variable=px complete
        px[0] = (ap_int<9>)((ap_uint<8>)beat.range(7, 0));

        for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
            sum[ch] = (i == 0 ? (ap_int<9>)0 : sum[ch]) + px[ch];
        }
    }
    ap_uint<8> result = 0;
    const ap_int<9> n0 = sum[0];
    const ap_int<13> n1 = hlsgen_add<13>(n0, 0, n0, 3);
    const ap_int<12> n2_t = hlsgen_shl<12>(n1, 0);
    const ap_int<12> n2 = hlsgen_offset<12>(n2_t, -1377);
    const ap_int<9> n3_q = hlsgen_shr<9>(n2, 3);
    const ap_int<9> n3 = hlsgen_clamp<9>(n3_q, -32, 127);

    result.range(7, 0) = (ap_uint<8>)n3;

    out.write(result);
}

#endif

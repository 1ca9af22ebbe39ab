// l2_res2: conv 1x1, stride 1x1, pads (top 0, left 0, bottom 0, right 0), 1 group(s), 1 -> 1 channels; method exact: 0 adders
// front end: line buffer + sliding window; parallel datapath: 1 nodes, 0 adder levels, no multipliers
// ONNX node(s): /res2/Conv
#ifndef HLSGEN_L2_RES2_H
#define HLSGEN_L2_RES2_H

#include <ap_int.h>
#include <hls_stream.h>

#include "hlsgen_ops.h"

void l2_res2(hls::stream<ap_uint<8> >& in, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
    ap_int<9> win[1][1][1];
#pragma HLS ARRAY_PARTITION variable=win complete dim=0
    int row = 0, col = 0, row_phase = 0, col_phase = 0;
l2_res2_walk:
    for (int step = 0; step < 1; step++) {
#pragma HLS PIPELINE II=1
        ap_int<9> px[1];
#pragma HLS ARRAY_PARTITION variable=px complete
        if (row >= 0 && row < 1 && col >= 0 && col < 1) {
            const ap_uint<8> beat = in.read();
            px[0] = (ap_int<9>)((ap_uint<8>)beat.range(7, 0));
        } else {
            for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
                px[ch] = 49;  // padding
            }
        }
        // slide the window one column left, then load the new column
        for (int i = 0; i < 1; i++) {
#pragma HLS UNROLL
            for (int j = 0; j + 1 < 1; j++) {
#pragma HLS UNROLL
                for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
                    win[i][j][ch] = win[i][j + 1][ch];
                }
            }
        }
        for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
            win[0][0][ch] = px[ch];
        }
        if (row >= 0 && col >= 0 && row_phase == 0 && col_phase == 0) {
            ap_uint<8> result = 0;

            result.range(7, 0) = 87;

            out.write(result);
        }
        // stride phases count from the first full window of a row / column
        if (col >= 0) {
            col_phase = col_phase == 0 ? 0 : col_phase + 1;
        }
        if (col == 0) {
            if (row >= 0) {
                row_phase = row_phase == 0 ? 0 : row_phase + 1;
            }
            col = 0;
            col_phase = 0;
            row++;
        } else {
            col++;
        }
    }
}

#endif

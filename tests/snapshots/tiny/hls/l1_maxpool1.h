// l1_maxpool1: maxpool 1x2, stride 1x2, pads (top 0, left 0, bottom 0, right 0), 1 -> 1 channels
// front end: line buffer + sliding window; parallel datapath: 3 nodes, 1 adder levels, no multipliers
// ONNX node(s): /maxpool1/MaxPool
#ifndef HLSGEN_L1_MAXPOOL1_H
#define HLSGEN_L1_MAXPOOL1_H

#include <ap_int.h>
#include <hls_stream.h>

#include "hlsgen_ops.h"

void l1_maxpool1(hls::stream<ap_uint<8> >& in, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
    ap_int<9> win[1][2][1];
#pragma HLS ARRAY_PARTITION variable=win complete dim=0
    int row = 0, col = 0, row_phase = 0, col_phase = 0;
l1_maxpool1_walk:
    for (int step = 0; step < 2; step++) {
#pragma HLS PIPELINE II=1
        ap_int<9> px[1];
#pragma HLS ARRAY_PARTITION variable=px complete
        if (row >= 0 && row < 1 && col >= 0 && col < 2) {
            const ap_uint<8> beat = in.read();
            px[0] = (ap_int<9>)((ap_uint<8>)beat.range(7, 0));
        } else {
            for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
                px[ch] = 0;  // padding
            }
        }
        // slide the window one column left, then load the new column
        for (int i = 0; i < 1; i++) {
#pragma HLS UNROLL
            for (int j = 0; j + 1 < 2; j++) {
#pragma HLS UNROLL
                for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
                    win[i][j][ch] = win[i][j + 1][ch];
                }
            }
        }
        for (int ch = 0; ch < 1; ch++) {
#pragma HLS UNROLL
            win[0][1][ch] = px[ch];
        }
        if (row >= 0 && col >= 1 && row_phase == 0 && col_phase == 0) {
            ap_uint<8> result = 0;
            const ap_int<9> n0 = win[0][0][0];
            const ap_int<9> n1 = win[0][1][0];
            const ap_int<9> n2 = hlsgen_max<9>(n0, n1);

            result.range(7, 0) = (ap_uint<8>)n2;

            out.write(result);
        }
        // stride phases count from the first full window of a row / column
        if (col >= 1) {
            col_phase = col_phase == 1 ? 0 : col_phase + 1;
        }
        if (col == 1) {
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

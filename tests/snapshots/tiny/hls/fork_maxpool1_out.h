// fork_maxpool1_out: copies 'maxpool1_out' to its 2 readers (one reader per stream in a dataflow region)
#ifndef HLSGEN_FORK_MAXPOOL1_OUT_H
#define HLSGEN_FORK_MAXPOOL1_OUT_H

#include <ap_int.h>
#include <hls_stream.h>

void fork_maxpool1_out(hls::stream<ap_uint<8> >& in, hls::stream<ap_uint<8> >& out0, hls::stream<ap_uint<8> >& out1) {
#pragma HLS INLINE off
fork_maxpool1_out_copy:
    for (int i = 0; i < 1; i++) {
#pragma HLS PIPELINE II=1
        const ap_uint<8> beat = in.read();
        out0.write(beat);
        out1.write(beat);
    }
}

#endif

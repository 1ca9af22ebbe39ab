// hlsgen_top: one dataflow process per layer of random5, connected by FIFOs.
#include "hlsgen_top.h"

#include "l0_conv0.h"
#include "l1_maxpool1.h"
#include "fork_maxpool1_out.h"
#include "l2_res2.h"
#include "l3_add2.h"
#include "l4_avgpool3.h"
#include "l5_dense4.h"

// AXI4-Stream in -> internal stream of beats (TKEEP/TSTRB/TLAST of the input are not needed:
// the frame length is fixed).
static void hlsgen_read_input(hls::stream<hlsgen_in_beat>& in_stream, hls::stream<ap_uint<8> >& out) {
#pragma HLS INLINE off
hlsgen_read_input_beats:
    for (int i = 0; i < 4; i++) {
#pragma HLS PIPELINE II=1
        const hlsgen_in_beat beat = in_stream.read();
        out.write(beat.data);
    }
}

// internal stream -> AXI4-Stream out, TLAST on the last beat of the frame.
static void hlsgen_write_output(hls::stream<ap_uint<8> >& in, hls::stream<hlsgen_out_beat>& out_stream) {
#pragma HLS INLINE off
hlsgen_write_output_beats:
    for (int i = 0; i < 1; i++) {
#pragma HLS PIPELINE II=1
        hlsgen_out_beat beat;
        beat.data = in.read();
        beat.keep = -1;
        beat.strb = -1;
        beat.last = (i == 0);
        out_stream.write(beat);
    }
}

void hlsgen_top(hls::stream<hlsgen_in_beat>& in_stream, hls::stream<hlsgen_out_beat>& out_stream) {
#pragma HLS INTERFACE mode=axis port=in_stream
#pragma HLS INTERFACE mode=axis port=out_stream
#pragma HLS INTERFACE mode=ap_ctrl_none port=return
#pragma HLS DATAFLOW
    hls::stream<ap_uint<8> > s_x("s_x");
#pragma HLS STREAM variable=s_x depth=2
    hls::stream<ap_uint<8> > s_conv0_out("s_conv0_out");
#pragma HLS STREAM variable=s_conv0_out depth=2
    hls::stream<ap_uint<8> > s_maxpool1_out("s_maxpool1_out");
#pragma HLS STREAM variable=s_maxpool1_out depth=2
    hls::stream<ap_uint<8> > s_maxpool1_out_0("s_maxpool1_out_0");
#pragma HLS STREAM variable=s_maxpool1_out_0 depth=2
    hls::stream<ap_uint<8> > s_maxpool1_out_1("s_maxpool1_out_1");
#pragma HLS STREAM variable=s_maxpool1_out_1 depth=2
    hls::stream<ap_uint<8> > s_res2_out("s_res2_out");
#pragma HLS STREAM variable=s_res2_out depth=2
    hls::stream<ap_uint<8> > s_add2_out("s_add2_out");
#pragma HLS STREAM variable=s_add2_out depth=2
    hls::stream<ap_uint<8> > s_avgpool3_out("s_avgpool3_out");
#pragma HLS STREAM variable=s_avgpool3_out depth=2
    hls::stream<ap_uint<8> > s_dense4_out("s_dense4_out");
#pragma HLS STREAM variable=s_dense4_out depth=2

    hlsgen_read_input(in_stream, s_x);
    l0_conv0(s_x, s_conv0_out);
    l1_maxpool1(s_conv0_out, s_maxpool1_out);
    fork_maxpool1_out(s_maxpool1_out, s_maxpool1_out_0, s_maxpool1_out_1);
    l2_res2(s_maxpool1_out_0, s_res2_out);
    l3_add2(s_maxpool1_out_1, s_res2_out, s_add2_out);
    l4_avgpool3(s_add2_out, s_avgpool3_out);
    l5_dense4(s_avgpool3_out, s_dense4_out);
    hlsgen_write_output(s_dense4_out, out_stream);
}

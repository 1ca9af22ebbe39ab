// Fallback AXI4-Stream beat type for g++ C simulation without Vitis HLS installed (the ap_int
// headers of the hls4ml wheel do not include ap_axi_sdata.h).  `make csim` puts this
// directory last on the include path, so Vitis' own ap_axi_sdata.h wins whenever
// $XILINX_HLS is set.  Only the members the generated code uses are provided.
#ifndef HLSGEN_CSIM_AP_AXI_SDATA_H
#define HLSGEN_CSIM_AP_AXI_SDATA_H

#include <ap_int.h>

namespace hls {

template <typename T, int WUser, int WId, int WDest>
struct axis {
    T data;
    ap_uint<(T::width + 7) / 8> keep;
    ap_uint<(T::width + 7) / 8> strb;
    ap_uint<1> last;
};

}  // namespace hls

#endif

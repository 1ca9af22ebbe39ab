// Shift-add primitives of hlsgen kernels.  Every result is computed in W bits with two's
// complement wrap-around, which is exact because the generator sizes W to hold the exact
// range of the result.  Each primitive is a template inlined by HLS (so the synthesized
// adder is exactly W bits wide); for C simulation one small function per width combination
// compiles far faster than the same arithmetic spelled out in thousands of expressions.
#ifndef HLSGEN_OPS_H
#define HLSGEN_OPS_H

#include <ap_int.h>

#ifdef __SYNTHESIS__
#define HLSGEN_OP inline
#else
// C simulation: one out-of-line copy per width combination; inlining thousands of copies
// makes g++ slower by a quarter and the simulation no faster.
#define HLSGEN_OP __attribute__((noinline)) inline
#endif

// 0
template <int W>
HLSGEN_OP ap_int<W> hlsgen_zero() {
#pragma HLS INLINE
    return ap_int<W>(0);
}

// a << sa
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_shl(const ap_int<WA>& a, int sa) {
#pragma HLS INLINE
    ap_int<W> x = a;
    x <<= sa;
    return x;
}

// -(a << sa)
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_minus(const ap_int<WA>& a, int sa) {
#pragma HLS INLINE
    ap_int<W> x = 0;
    ap_int<W> y = a;
    y <<= sa;
    x -= y;
    return x;
}

// (a << sa) + (b << sb)
template <int W, int WA, int WB>
HLSGEN_OP ap_int<W> hlsgen_add(const ap_int<WA>& a, int sa, const ap_int<WB>& b, int sb) {
#pragma HLS INLINE
    ap_int<W> x = a;
    ap_int<W> y = b;
    x <<= sa;
    y <<= sb;
    x += y;
    return x;
}

// (a << sa) - (b << sb)
template <int W, int WA, int WB>
HLSGEN_OP ap_int<W> hlsgen_sub(const ap_int<WA>& a, int sa, const ap_int<WB>& b, int sb) {
#pragma HLS INLINE
    ap_int<W> x = a;
    ap_int<W> y = b;
    x <<= sa;
    y <<= sb;
    x -= y;
    return x;
}

// -(a << sa) - (b << sb)
template <int W, int WA, int WB>
HLSGEN_OP ap_int<W> hlsgen_nadd(const ap_int<WA>& a, int sa, const ap_int<WB>& b, int sb) {
#pragma HLS INLINE
    ap_int<W> x = 0;
    ap_int<W> y = a;
    ap_int<W> z = b;
    y <<= sa;
    z <<= sb;
    x -= y;
    x -= z;
    return x;
}

// a + c for a constant c
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_offset(const ap_int<WA>& a, long long c) {
#pragma HLS INLINE
    ap_int<W> x = a;
    x += c;
    return x;
}

// floor(a / 2^s): arithmetic shift right (s < WA)
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_shr(const ap_int<WA>& a, int s) {
#pragma HLS INLINE
    ap_int<WA> x = a;
    x >>= s;
    return ap_int<W>(x);
}

// floor(a / 2^s), then a tie (the s low bits of a all 0; every value when s = 0) whose floor
// has not the parity p steps down by one: round half to even with the zero point's parity
// folded in.  Any s >= 0 (s >= WA: only a = 0 is a tie).
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_shr_tie(const ap_int<WA>& a, int s, int p) {
#pragma HLS INLINE
    ap_int<WA> x = a;
    x >>= (s < WA ? s : WA - 1);
    bool tie = true;
    if (s > 0) {
        ap_uint<WA> low = a;
        low <<= (s < WA ? WA - s : 0);
        tie = (low == 0);
    }
    ap_int<W> y = x;
    const bool odd = x[0];
    if (tie && odd != (p != 0)) {
        y -= 1;
    }
    return y;
}

// max(a, b)
template <int W, int WA, int WB>
HLSGEN_OP ap_int<W> hlsgen_max(const ap_int<WA>& a, const ap_int<WB>& b) {
#pragma HLS INLINE
    if (a > b) {
        return ap_int<W>(a);
    }
    return ap_int<W>(b);
}

// min(max(a, lo), hi)
template <int W, int WA>
HLSGEN_OP ap_int<W> hlsgen_clamp(const ap_int<WA>& a, int lo, int hi) {
#pragma HLS INLINE
    if (a < lo) {
        return ap_int<W>(lo);
    }
    if (a > hi) {
        return ap_int<W>(hi);
    }
    return ap_int<W>(a);
}

#endif

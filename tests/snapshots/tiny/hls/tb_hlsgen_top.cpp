// C testbench of hlsgen_top: feeds every frame of the input vectors through the kernel and
// compares every output integer with the expected vectors (onnxruntime on the integer model).
// Usage: tb [input.txt [expected.txt [result.json [compile_seconds]]]]; exit status 0 only
// when every frame matches exactly.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "hlsgen_top.h"

static bool next_frame(std::ifstream& file, std::vector<long long>& values) {
    std::string line;
    while (std::getline(file, line)) {
        std::istringstream fields(line);
        values.clear();
        long long v;
        while (fields >> v) {
            values.push_back(v);
        }
        if (!values.empty()) {
            return true;
        }
    }
    return false;
}

int main(int argc, char** argv) {
    const char* input_path = argc > 1 ? argv[1] : "input.txt";
    const char* expected_path = argc > 2 ? argv[2] : "expected.txt";
    const char* json_path = argc > 3 ? argv[3] : 0;
    const char* compile_seconds = argc > 4 ? argv[4] : "null";
    std::ifstream input(input_path), expected(expected_path);
    if (!input || !expected) {
        std::cerr << "tb: cannot open " << (!input ? input_path : expected_path) << "\n";
        return 2;
    }
    const int in_values = HLSGEN_IN_BEATS * HLSGEN_IN_CHANNELS;
    const int out_values = HLSGEN_OUT_BEATS * HLSGEN_OUT_CHANNELS;
    const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    long frames = 0, mismatches = 0;
    std::vector<long long> x, want;
    while (next_frame(input, x)) {
        if (!next_frame(expected, want)) {
            std::cerr << "tb: " << expected_path << " has fewer frames than " << input_path << "\n";
            return 2;
        }
        if ((int)x.size() != in_values || (int)want.size() != out_values) {
            std::cerr << "tb: frame " << frames << " has " << x.size() << " inputs / " << want.size()
                      << " outputs; expected " << in_values << " / " << out_values << "\n";
            return 2;
        }
        hls::stream<hlsgen_in_beat> in_stream("in_stream");
        hls::stream<hlsgen_out_beat> out_stream("out_stream");
        for (int p = 0; p < HLSGEN_IN_BEATS; p++) {
            hlsgen_in_beat beat;
            beat.data = 0;
            for (int c = 0; c < HLSGEN_IN_CHANNELS; c++) {
                beat.data.range(8 * c + 7, 8 * c) = (ap_uint<8>)(x[p * HLSGEN_IN_CHANNELS + c] & 0xff);
            }
            beat.keep = -1;
            beat.strb = -1;
            beat.last = (p == HLSGEN_IN_BEATS - 1);
            in_stream.write(beat);
        }
        hlsgen_top(in_stream, out_stream);
        for (int p = 0; p < HLSGEN_OUT_BEATS; p++) {
            if (out_stream.empty()) {
                std::cerr << "frame " << frames << ": output ended after " << p << " of "
                          << HLSGEN_OUT_BEATS << " beats\n";
                mismatches += (long)(HLSGEN_OUT_BEATS - p) * HLSGEN_OUT_CHANNELS;
                break;
            }
            const hlsgen_out_beat beat = out_stream.read();
            if ((bool)beat.last != (p == HLSGEN_OUT_BEATS - 1)) {
                std::cerr << "frame " << frames << ": TLAST wrong on beat " << p << "\n";
                mismatches++;
            }
            for (int c = 0; c < HLSGEN_OUT_CHANNELS; c++) {
                const ap_uint<8> bits = beat.data.range(8 * c + 7, 8 * c);
                const long long got = HLSGEN_OUT_SIGNED ? (long long)((ap_int<8>)bits).to_int()
                                                        : (long long)bits.to_uint();
                const long long exp = want[p * HLSGEN_OUT_CHANNELS + c];
                if (got != exp) {
                    if (mismatches < 10) {
                        std::cerr << "frame " << frames << " pixel " << p << " channel " << c
                                  << ": got " << got << ", expected " << exp << "\n";
                    }
                    mismatches++;
                }
            }
        }
        while (!out_stream.empty()) {
            out_stream.read();
            std::cerr << "frame " << frames << ": extra output beat\n";
            mismatches++;
        }
        if (!in_stream.empty()) {
            std::cerr << "frame " << frames << ": the kernel left input beats unread\n";
            mismatches++;
        }
        frames++;
    }
    if (next_frame(expected, want)) {
        std::cerr << "tb: " << expected_path << " has more frames than " << input_path << "\n";
        return 2;
    }
    const double run_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "csim: " << frames << " frames, " << mismatches << " mismatches\n";
    if (json_path) {
        std::ofstream json(json_path);
        json << "{\"frames\": " << frames << ", \"mismatches\": " << mismatches
             << ", \"compile_seconds\": " << compile_seconds << ", \"run_seconds\": " << run_seconds
             << "}\n";
    }
    return (frames > 0 && mismatches == 0) ? 0 : 1;
}

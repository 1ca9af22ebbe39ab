// hlsgen_sum: front end of a global AvgPool: per channel, the sum of every pixel of a frame.
// Hand-written primitive, parameterised by hlsgen.  AW is the exact accumulator width.
//
// Timing: the frame's last beat accepted at cycle a -> `sum_valid` at a+1.  The next frame
// accumulates while the sum waits for the pipeline; only its last beat has to wait.
module hlsgen_sum #(
    parameter integer C = 1,        // channels
    parameter integer AW = 9,       // accumulator width (>= 9)
    parameter integer BEATS = 1,    // beats per frame
    parameter integer CB = 1,       // beat counter width
    parameter integer SIGNED = 1    // 1: int8 pixels, 0: uint8
) (
    input  wire            clk,
    input  wire            rst_n,
    input  wire [8*C-1:0]  s_data,
    input  wire            s_valid,
    output wire            s_ready,
    input  wire            en,
    output reg  [C*AW-1:0] sum,
    output reg             sum_valid
);
    reg [CB-1:0] count;
    reg [C*AW-1:0] acc;
    wire last = (count == BEATS - 1);
    assign s_ready = !(last && sum_valid && !en);
    wire accept = s_valid && s_ready;

    wire [C*AW-1:0] next;
    genvar c;
    generate
        for (c = 0; c < C; c = c + 1) begin : g_ch
            wire sign = (SIGNED != 0) && s_data[8*c+7];
            wire [AW-1:0] x = {{(AW-8){sign}}, s_data[8*c +: 8]};
            assign next[c*AW +: AW] = acc[c*AW +: AW] + x;
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            count <= {CB{1'b0}};
            acc <= {C*AW{1'b0}};
            sum_valid <= 1'b0;
        end else begin
            if (en)
                sum_valid <= 1'b0;
            if (accept) begin
                if (last) begin
                    count <= {CB{1'b0}};
                    acc <= {C*AW{1'b0}};
                    sum <= next;
                    sum_valid <= 1'b1;
                end else begin
                    count <= count + 1'b1;
                    acc <= next;
                end
            end
        end
    end
endmodule

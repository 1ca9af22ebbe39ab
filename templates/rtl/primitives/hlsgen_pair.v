// hlsgen_pair: front end of a residual Add: one FIFO per input (depths sized by hlsgen from
// the two branches' schedules), popped together.  Hand-written primitive.
//
// Timing: beat k is popped at cycle p = max(both heads visible, previous pop + 1) (a head
// written at a is visible at a+1); `pair` holds it at p+1.
module hlsgen_pair #(
    parameter integer WA = 8,
    parameter integer WB = 8,
    parameter integer DA = 2,
    parameter integer DB = 2,
    parameter integer AA = 1,   // clog2(DA)
    parameter integer AB = 1,   // clog2(DB)
    parameter integer CA = 2,   // clog2(DA + 1)
    parameter integer CB = 2    // clog2(DB + 1)
) (
    input  wire            clk,
    input  wire            rst_n,
    input  wire [WA-1:0]   a_data,
    input  wire            a_valid,
    output wire            a_ready,
    input  wire [WB-1:0]   b_data,
    input  wire            b_valid,
    output wire            b_ready,
    input  wire            en,
    output reg [WA+WB-1:0] pair,   // {b, a}
    output reg             pair_valid
);
    wire [WA-1:0] ha;
    wire [WB-1:0] hb;
    wire va, vb;
    wire pop = va && vb && en;

    hlsgen_fifo #(.WIDTH(WA), .DEPTH(DA), .AB(AA), .CB(CA)) u_a (
        .clk(clk), .rst_n(rst_n), .s_data(a_data), .s_valid(a_valid), .s_ready(a_ready),
        .m_data(ha), .m_valid(va), .m_ready(pop));
    hlsgen_fifo #(.WIDTH(WB), .DEPTH(DB), .AB(AB), .CB(CB)) u_b (
        .clk(clk), .rst_n(rst_n), .s_data(b_data), .s_valid(b_valid), .s_ready(b_ready),
        .m_data(hb), .m_valid(vb), .m_ready(pop));

    always @(posedge clk) begin
        if (!rst_n) begin
            pair_valid <= 1'b0;
        end else if (en) begin
            pair_valid <= pop;
            pair <= {hb, ha};
        end
    end
endmodule

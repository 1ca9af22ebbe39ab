// hlsgen_fork: copies one stream to N consumers (a tensor read by several layers).  Each
// output takes the beat at its own pace; the input moves on once every output has it.
// Hand-written primitive, zero latency.
module hlsgen_fork #(
    parameter integer WIDTH = 8,
    parameter integer N = 2
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_data,
    input  wire             s_valid,
    output wire             s_ready,
    output wire [WIDTH-1:0] m_data,
    output wire [N-1:0]     m_valid,
    input  wire [N-1:0]     m_ready
);
    reg [N-1:0] done;  // outputs that already took the current beat
    wire [N-1:0] taken = done | m_ready;
    assign s_ready = &taken;
    assign m_valid = {N{s_valid}} & ~done;
    assign m_data = s_data;

    always @(posedge clk) begin
        if (!rst_n)
            done <= {N{1'b0}};
        else if (s_valid)
            done <= s_ready ? {N{1'b0}} : (done | (m_valid & m_ready));
    end
endmodule

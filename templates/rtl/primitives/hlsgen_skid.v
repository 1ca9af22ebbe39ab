// hlsgen_skid: two-entry register slice at every layer output.  `s_ready` is a register, so
// a layer's pipeline enable never depends combinationally on the next layer.
// Hand-written primitive.  Timing: an item accepted at cycle t is offered at t+1.
module hlsgen_skid #(
    parameter integer WIDTH = 8
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_data,
    input  wire             s_valid,
    output wire             s_ready,
    output reg  [WIDTH-1:0] m_data,
    output reg              m_valid,
    input  wire             m_ready
);
    reg [WIDTH-1:0] skid_data;
    reg skid_valid;
    assign s_ready = !skid_valid;

    always @(posedge clk) begin
        if (!rst_n) begin
            m_valid <= 1'b0;
            skid_valid <= 1'b0;
        end else if (skid_valid) begin
            if (m_ready) begin
                m_data <= skid_data;
                skid_valid <= 1'b0;
            end
        end else if (m_valid && !m_ready) begin
            if (s_valid) begin
                skid_data <= s_data;
                skid_valid <= 1'b1;
            end
        end else begin
            m_valid <= s_valid;
            m_data <= s_data;
        end
    end
endmodule

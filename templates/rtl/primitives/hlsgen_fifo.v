// hlsgen_fifo: first-word-fall-through FIFO in distributed RAM (asynchronous read).
// Hand-written primitive.  A beat written at cycle a is visible at the head at a+1.
// `s_ready` depends on the fill level only, never on `m_ready`.
module hlsgen_fifo #(
    parameter integer WIDTH = 8,
    parameter integer DEPTH = 2,
    parameter integer AB = 1,   // address bits: clog2(DEPTH)
    parameter integer CB = 2    // count bits: clog2(DEPTH + 1)
) (
    input  wire             clk,
    input  wire             rst_n,
    input  wire [WIDTH-1:0] s_data,
    input  wire             s_valid,
    output wire             s_ready,
    output wire [WIDTH-1:0] m_data,
    output wire             m_valid,
    input  wire             m_ready
);
    reg [WIDTH-1:0] mem [0:DEPTH-1];
    reg [AB-1:0] wp, rp;
    reg [CB-1:0] count;
    assign s_ready = (count < DEPTH);
    assign m_valid = (count != 0);
    assign m_data = mem[rp];
    wire push = s_valid && s_ready;
    wire pop = m_valid && m_ready;

    always @(posedge clk)
        if (push)
            mem[wp] <= s_data;

    always @(posedge clk) begin
        if (!rst_n) begin
            wp <= {AB{1'b0}};
            rp <= {AB{1'b0}};
            count <= {CB{1'b0}};
        end else begin
            if (push)
                wp <= (wp == DEPTH - 1) ? {AB{1'b0}} : wp + 1'b1;
            if (pop)
                rp <= (rp == DEPTH - 1) ? {AB{1'b0}} : rp + 1'b1;
            if (push && !pop)
                count <= count + 1'b1;
            else if (pop && !push)
                count <= count - 1'b1;
        end
    end
endmodule

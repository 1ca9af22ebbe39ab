// hlsgen_skid_ram: hlsgen_skid's two-entry slice with its two entries in distributed RAM
// instead of registers (a folded layer's output is wide and slow: 8 x Cout bits once every
// item).  Same ports and timing: `s_ready` is a register (fewer than two entries held), an
// item accepted at cycle t is offered at t+1, in order.  Hand-written primitive.
module hlsgen_skid_ram #(
    parameter integer WIDTH = 8
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
    (* ram_style = "distributed" *) reg [WIDTH-1:0] mem [0:1];
    reg wptr, rptr;
    reg [1:0] count;  // entries held
    assign s_ready = !count[1];
    assign m_valid = count != 2'd0;
    assign m_data = mem[rptr];
    wire push = s_valid && s_ready;
    wire pop = m_valid && m_ready;

    always @(posedge clk)
        if (push)
            mem[wptr] <= s_data;
    always @(posedge clk) begin
        if (!rst_n) begin
            wptr <= 1'b0;
            rptr <= 1'b0;
            count <= 2'd0;
        end else begin
            if (push)
                wptr <= !wptr;
            if (pop)
                rptr <= !rptr;
            count <= count + {1'b0, push} - {1'b0, pop};
        end
    end
endmodule

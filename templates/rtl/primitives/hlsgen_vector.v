// hlsgen_vector: front end of a Dense layer: collects a whole frame (BEATS pixels) into one
// vector; beat b sits in bits [b*PW +: PW], so input element i = (h*W + w)*C + c is byte i.
// Hand-written primitive, parameterised by hlsgen.
//
// Timing: the frame's last beat accepted at cycle a -> `vec_valid` at a+1.  The next frame
// may start filling in the same cycle the vector moves into the pipeline.
module hlsgen_vector #(
    parameter integer PW = 8,      // bits per beat
    parameter integer BEATS = 1,   // beats per frame
    parameter integer CB = 1       // beat counter width
) (
    input  wire                clk,
    input  wire                rst_n,
    input  wire [PW-1:0]       s_data,
    input  wire                s_valid,
    output wire                s_ready,
    input  wire                en,
    output reg  [BEATS*PW-1:0] vec,
    output reg                 vec_valid
);
    reg [CB-1:0] count;
    wire last = (count == BEATS - 1);
    // A full vector waits for the pipeline; the beats behind it wait too.
    assign s_ready = !vec_valid || en;
    wire accept = s_valid && s_ready;

    always @(posedge clk) begin
        if (!rst_n) begin
            count <= {CB{1'b0}};
            vec_valid <= 1'b0;
        end else begin
            if (en)
                vec_valid <= 1'b0;
            if (accept) begin
                count <= last ? {CB{1'b0}} : count + 1'b1;
                if (last)
                    vec_valid <= 1'b1;
            end
        end
    end

    generate
        if (BEATS == 1) begin : g_one
            always @(posedge clk)
                if (accept)
                    vec <= s_data;
        end else begin : g_shift
            always @(posedge clk)
                if (accept)
                    vec <= {s_data, vec[BEATS*PW-1:PW]};
        end
    endgenerate
endmodule

// hlsgen_pixel: front end of a pointwise layer (1x1 window, no padding): every beat on the
// stride grid becomes one output pixel.  Hand-written primitive, parameterised by hlsgen.
//
// Timing: a beat accepted at cycle a is in `pix` at a+1.  The layer cannot hold a beat
// while its pipeline is stalled, so it is ready exactly when the pipeline moves (`en`).
module hlsgen_pixel #(
    parameter integer PW = 8,   // bits per pixel: 8 * channels
    parameter integer W = 1,    // input columns
    parameter integer SH = 1,
    parameter integer SW = 1,
    parameter integer H = 1,    // input rows
    parameter integer HO = 1,   // output rows
    parameter integer WO = 1,   // output columns
    parameter integer CW = 8    // counter width
) (
    input  wire          clk,
    input  wire          rst_n,
    input  wire [PW-1:0] s_data,
    input  wire          s_valid,
    output wire          s_ready,
    input  wire          en,
    output reg  [PW-1:0] pix,
    output reg           pix_valid
);
    // Position of the next beat as (row div SH, row mod SH) and (col div SW, col mod SW).
    reg [CW-1:0] orow, rphase, ocol, cphase, col, row;
    wire keep = (rphase == 0) && (orow < HO) && (cphase == 0) && (ocol < WO);
    wire accept = s_valid && en;
    assign s_ready = en;

    always @(posedge clk) begin
        if (!rst_n) begin
            {orow, rphase, ocol, cphase, col, row} <= {6*CW{1'b0}};
            pix_valid <= 1'b0;
        end else begin
            if (en) begin
                pix_valid <= accept && keep;
                pix <= s_data;
            end
            if (accept) begin
                if (col == W - 1) begin
                    col <= {CW{1'b0}};
                    ocol <= {CW{1'b0}};
                    cphase <= {CW{1'b0}};
                    if (row == H - 1) begin
                        row <= {CW{1'b0}};
                        orow <= {CW{1'b0}};
                        rphase <= {CW{1'b0}};
                    end else begin
                        row <= row + 1'b1;
                        if (rphase == SH - 1) begin
                            rphase <= {CW{1'b0}};
                            orow <= orow + 1'b1;
                        end else begin
                            rphase <= rphase + 1'b1;
                        end
                    end
                end else begin
                    col <= col + 1'b1;
                    if (cphase == SW - 1) begin
                        cphase <= {CW{1'b0}};
                        ocol <= ocol + 1'b1;
                    end else begin
                        cphase <= cphase + 1'b1;
                    end
                end
            end
        end
    end
endmodule

// hlsgen_window: line buffer and window emitter of one sliding-window layer
// (Conv with a kernel or padding, MaxPool, windowed AvgPool).  Hand-written primitive,
// parameterised by hlsgen; see docs/hardware.md for the timing contract.
//
// Writer: every accepted beat (one pixel) goes into row slot (global row mod R), column
// bank (col mod KW), address (col div KW).  It may run ahead of the emitter by up to R rows
// (the row-level check below): it never overwrites a row the emitter's current output reads.
//
// Emitter: walks the output pixels in raster order, at most one per cycle.  Output (i, j)
// is emitted once the last input pixel its window reads (bottom-right, clamped to the
// frame) has been written; the KH*KW pixels are read in one cycle from the R*KW banks
// (each bank one synchronous read port), rotated into window order and padded.
//
// Timing: emit at cycle e (needs en) -> bank outputs at e+1 -> `win` valid at e+2.
// A beat accepted at cycle a can trigger an emission at a+1 at the earliest.
// `en` stalls everything after the writer (the layer's pipeline enable).
module hlsgen_window #(
    parameter integer PW = 8,           // bits per pixel: 8 * channels
    parameter integer H = 1,            // input rows
    parameter integer W = 1,            // input columns
    parameter integer KH = 1,
    parameter integer KW = 1,
    parameter integer SH = 1,
    parameter integer SW = 1,
    parameter integer PT = 0,           // padding rows above
    parameter integer PL = 0,           // padding columns left
    parameter integer HO = 1,           // output rows
    parameter integer WO = 1,           // output columns
    parameter integer R = 1,            // row slots (>= KH), sized by hlsgen's schedule
    parameter integer DB = 1,           // words per bank: ceil(W / KW)
    parameter integer AB = 1,           // bank address bits
    parameter integer SB = 1,           // row slot index bits
    parameter integer KB = 1,           // bank index bits
    parameter integer CW = 8,           // signed width of row / column positions
    parameter integer GB = 8,           // width of the (wrapping) global row counters
    parameter [PW-1:0] PAD = {PW{1'b0}},
    // Incremental constants (computed by hlsgen so that no '*', '/' or '%' is needed):
    parameter integer TSLOT_INIT = 0,   // slot of row -PT of frame 0: (-PT) mod R
    parameter integer TSLOT_ROW = 0,    // SH mod R
    parameter integer TSLOT_FRAME = 0,  // (H - (HO-1)*SH) mod R
    parameter integer LBANK_INIT = 0,   // (-PL) mod KW
    parameter integer LADDR_INIT = 0,   // floor(-PL / KW)
    parameter integer SW_BANK = 0,      // SW mod KW
    parameter integer SW_ADDR = 0       // SW div KW
) (
    input  wire                 clk,
    input  wire                 rst_n,
    input  wire [PW-1:0]        s_data,
    input  wire                 s_valid,
    output wire                 s_ready,
    input  wire                 en,
    output reg  [KH*KW*PW-1:0]  win,
    output reg                  win_valid
);
    // ---- writer --------------------------------------------------------------------
    reg  [GB-1:0] wrow;   // global row of the next beat
    reg  [CW-1:0] wcol;   // its column
    reg  [SB-1:0] wslot;
    reg  [KB-1:0] wbank;
    reg  [AB-1:0] waddr;

    // ---- emitter state ---------------------------------------------------------------
    reg  [CW-1:0]        orow, ocol;  // output pixel (i, j)
    reg  signed [CW-1:0] top, left;   // i*SH - PT, j*SW - PL
    reg  [GB-1:0]        fbase;       // global row of row 0 of the emitter's frame
    reg  [SB-1:0]        tslot;       // slot of row `top` (virtual if top < 0)
    reg  [KB-1:0]        lbank;       // left mod KW
    reg  signed [CW-1:0] laddr;       // floor(left / KW)

    // Last pixel the window reads, clamped to the frame.
    wire signed [CW-1:0] brow = (top + KH - 1 > H - 1) ? H - 1 : top + KH - 1;
    wire signed [CW-1:0] bcol = (left + KW - 1 > W - 1) ? W - 1 : left + KW - 1;
    wire        [GB-1:0] brow_g = fbase + brow[GB-1:0];
    wire        [GB-1:0] trig_d = wrow - brow_g;
    wire written = ($signed(trig_d) > 0) || ((trig_d == 0) && ($signed(wcol) > bcol));
    // Oldest row the current output reads; the writer stays less than R rows ahead of it.
    wire        [GB-1:0] oldest_g = fbase + ((top < 0) ? {GB{1'b0}} : top[GB-1:0]);
    wire        [GB-1:0] ahead = wrow - oldest_g;
    assign s_ready = $signed(ahead) < R;

    wire emit = en && written;
    wire accept = s_valid && s_ready;

    function [SB-1:0] slot_add(input [SB-1:0] slot, input integer inc);
        integer t;
        begin
            t = slot + inc;
            slot_add = (t >= R) ? t - R : t;
        end
    endfunction

    function [KB-1:0] bank_add(input [KB-1:0] bank, input integer inc);
        integer t;
        begin
            t = bank + inc;
            bank_add = (t >= KW) ? t - KW : t;
        end
    endfunction

    always @(posedge clk) begin
        if (!rst_n) begin
            wrow <= {GB{1'b0}};
            wcol <= {CW{1'b0}};
            wslot <= {SB{1'b0}};
            wbank <= {KB{1'b0}};
            waddr <= {AB{1'b0}};
        end else if (accept) begin
            if (wcol == W - 1) begin
                wcol <= {CW{1'b0}};
                wbank <= {KB{1'b0}};
                waddr <= {AB{1'b0}};
                wrow <= wrow + 1'b1;
                wslot <= slot_add(wslot, 1);
            end else begin
                wcol <= wcol + 1'b1;
                if (wbank == KW - 1) begin
                    wbank <= {KB{1'b0}};
                    waddr <= waddr + 1'b1;
                end else begin
                    wbank <= wbank + 1'b1;
                end
            end
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            orow <= {CW{1'b0}};
            ocol <= {CW{1'b0}};
            top <= -PT;
            left <= -PL;
            fbase <= {GB{1'b0}};
            tslot <= TSLOT_INIT;
            lbank <= LBANK_INIT;
            laddr <= LADDR_INIT;
        end else if (emit) begin
            if (ocol == WO - 1) begin
                ocol <= {CW{1'b0}};
                left <= -PL;
                lbank <= LBANK_INIT;
                laddr <= LADDR_INIT;
                if (orow == HO - 1) begin
                    orow <= {CW{1'b0}};
                    top <= -PT;
                    fbase <= fbase + H;
                    tslot <= slot_add(tslot, TSLOT_FRAME);
                end else begin
                    orow <= orow + 1'b1;
                    top <= top + SH;
                    tslot <= slot_add(tslot, TSLOT_ROW);
                end
            end else begin
                ocol <= ocol + 1'b1;
                left <= left + SW;
                lbank <= bank_add(lbank, SW_BANK);
                laddr <= laddr + SW_ADDR + ((lbank + SW_BANK >= KW) ? 1 : 0);
            end
        end
    end

    // ---- banked line buffer: R slots x KW banks, one write and one read port each ------
    wire [R*KW*PW-1:0] bank_q;
    genvar gs, gb;
    generate
        for (gs = 0; gs < R; gs = gs + 1) begin : g_slot
            for (gb = 0; gb < KW; gb = gb + 1) begin : g_bank
                reg [PW-1:0] mem [0:DB-1];
                reg [PW-1:0] q;
                // Bank gb holds window column (gb - lbank) mod KW, one word further on when
                // that column wrapped past the end of the bank row.
                wire [AB-1:0] raddr = laddr[AB-1:0] + ((gb < lbank) ? 1'b1 : 1'b0);
                always @(posedge clk) begin
                    if (accept && wslot == gs && wbank == gb)
                        mem[waddr] <= s_data;
                    if (en)
                        q <= mem[raddr];
                end
                assign bank_q[(gs*KW+gb)*PW +: PW] = q;
            end
        end
    endgenerate

    // ---- stage 1: bank outputs and the selection that goes with them -----------------
    reg          q_valid;
    reg [SB-1:0] q_tslot;
    reg [KB-1:0] q_lbank;
    reg [KH-1:0] q_rowpad;
    reg [KW-1:0] q_colpad;
    integer k;
    always @(posedge clk) begin
        if (!rst_n) begin
            q_valid <= 1'b0;
        end else if (en) begin
            q_valid <= emit;
            q_tslot <= tslot;
            q_lbank <= lbank;
            for (k = 0; k < KH; k = k + 1)
                q_rowpad[k] <= (top + k < 0) || (top + k > H - 1);
            for (k = 0; k < KW; k = k + 1)
                q_colpad[k] <= (left + k < 0) || (left + k > W - 1);
        end
    end

    // ---- stage 2: rotate rows and banks into window order, insert padding --------------
    reg [KH*KW*PW-1:0] rows;  // [kh][bank]
    reg [KH*KW*PW-1:0] next_win;
    reg [SB-1:0] rslot;
    reg [KB-1:0] rbank;
    integer kh, kw, s, b;
    always @* begin
        rows = {KH*KW*PW{1'b0}};
        next_win = {KH*KW*PW{1'b0}};
        for (kh = 0; kh < KH; kh = kh + 1) begin
            rslot = slot_add(q_tslot, kh);
            for (b = 0; b < KW; b = b + 1)
                for (s = 0; s < R; s = s + 1)
                    if (rslot == s)
                        rows[(kh*KW+b)*PW +: PW] = bank_q[(s*KW+b)*PW +: PW];
            for (kw = 0; kw < KW; kw = kw + 1) begin
                rbank = bank_add(q_lbank, kw);
                if (q_rowpad[kh] || q_colpad[kw]) begin
                    next_win[(kh*KW+kw)*PW +: PW] = PAD;
                end else begin
                    for (b = 0; b < KW; b = b + 1)
                        if (rbank == b)
                            next_win[(kh*KW+kw)*PW +: PW] = rows[(kh*KW+b)*PW +: PW];
                end
            end
        end
    end

    always @(posedge clk) begin
        if (!rst_n) begin
            win_valid <= 1'b0;
        end else if (en) begin
            win_valid <= q_valid;
            win <= next_win;
        end
    end
endmodule

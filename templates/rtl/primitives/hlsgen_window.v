// hlsgen_window: line buffer and window emitter of one sliding-window layer
// (Conv with a kernel or padding, MaxPool, windowed AvgPool).  Hand-written primitive,
// parameterised by hlsgen; see docs/hardware.md for the timing contract.
//
// Writer: every accepted beat (one pixel) goes into column bank (col mod KW) at address
// slot*DB + col div KW, slot = global row mod R.  It may run ahead of the emitter by up to R
// rows (the row-level check below): it never overwrites a row the current output reads.
//
// Emitter: walks the output pixels in raster order, at most one per cycle.  Output (i, j)
// is emitted once the last input pixel its window reads (bottom-right, clamped to the
// frame) has been written; the KH*KW pixels are read in one cycle: every bank has one
// synchronous read port per window row (distributed RAM, replicated by synthesis), so rows
// need no multiplexer, and the KW bank outputs of a row are rotated into window order.
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
    parameter integer DB = 1,           // words per bank and row: ceil(W / KW)
    parameter integer AB = 1,           // bank address bits: clog2(R * DB)
    parameter integer KB = 1,           // bank index bits
    parameter integer CW = 8,           // signed width of row / column positions
    parameter integer GB = 8,           // width of the (wrapping) global row counters
    parameter [PW-1:0] PAD = {PW{1'b0}},
    // Incremental constants (computed by hlsgen so that no '*', '/' or '%' is needed):
    parameter integer TBASE_INIT = 0,   // DB * ((-PT) mod R): base of row -PT of frame 0
    parameter integer TBASE_ROW = 0,    // DB * (SH mod R)
    parameter integer TBASE_FRAME = 0,  // DB * ((H - (HO-1)*SH) mod R)
    parameter integer LBANK_INIT = 0,   // (-PL) mod KW
    parameter integer LADDR_INIT = 0,   // floor(-PL / KW)
    parameter integer SW_BANK = 0,      // SW mod KW
    parameter integer SW_ADDR = 0,      // SW div KW
    parameter integer BANK_FIXED = -1,  // >= 0: every output starts in this bank (no rotation)
    parameter integer SL = 1            // select bits per window pixel: clog2(KW + 1)
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
    reg  [AB-1:0] wbase;  // DB * slot of that row
    reg  [KB-1:0] wbank;
    reg  [AB-1:0] waddr;  // wbase + column div KW

    // ---- emitter state ---------------------------------------------------------------
    reg  [CW-1:0]        orow, ocol;  // output pixel (i, j)
    reg  signed [CW-1:0] top, left;   // i*SH - PT, j*SW - PL
    reg  [GB-1:0]        fbase;       // global row of row 0 of the emitter's frame
    reg  [AB-1:0]        tbase;       // DB * slot of row `top` (virtual if top < 0)
    reg  [KB-1:0]        lbank;       // left mod KW
    reg  signed [CW-1:0] laddr;       // floor(left / KW)

    // Last pixel the window reads, clamped to the frame.
    wire signed [CW-1:0] brow = (top + KH - 1 > H - 1) ? H - 1 : top + KH - 1;
    wire signed [CW-1:0] bcol = (left + KW - 1 > W - 1) ? W - 1 : left + KW - 1;
    // Rows as GB-bit numbers (brow and the clamped top are never negative).
    wire        [GB-1:0] brow_u = brow;
    wire        [GB-1:0] top_u = (top < 0) ? {CW{1'b0}} : top;
    wire        [GB-1:0] brow_g = fbase + brow_u;
    wire        [GB-1:0] trig_d = wrow - brow_g;
    wire written = ($signed(trig_d) > 0) || ((trig_d == 0) && ($signed(wcol) > bcol));
    // Oldest row the current output reads; the writer stays less than R rows ahead of it.
    wire        [GB-1:0] oldest_g = fbase + top_u;
    wire        [GB-1:0] ahead = wrow - oldest_g;
    assign s_ready = $signed(ahead) < R;

    wire emit = en && written;
    wire accept = s_valid && s_ready;

    // (base + inc) mod (R * DB), for 0 <= inc < R * DB
    function [AB-1:0] base_add(input [AB-1:0] base, input integer inc);
        integer t;
        begin
            t = base + inc;
            base_add = (t >= R * DB) ? t - R * DB : t;
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
            wbase <= {AB{1'b0}};
            wbank <= {KB{1'b0}};
            waddr <= {AB{1'b0}};
        end else if (accept) begin
            if (wcol == W - 1) begin
                wcol <= {CW{1'b0}};
                wbank <= {KB{1'b0}};
                wrow <= wrow + 1'b1;
                wbase <= base_add(wbase, DB);
                waddr <= base_add(wbase, DB);
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
            tbase <= TBASE_INIT;
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
                    tbase <= base_add(tbase, TBASE_FRAME);
                end else begin
                    orow <= orow + 1'b1;
                    top <= top + SH;
                    tbase <= base_add(tbase, TBASE_ROW);
                end
            end else begin
                ocol <= ocol + 1'b1;
                left <= left + SW;
                lbank <= bank_add(lbank, SW_BANK);
                laddr <= laddr + SW_ADDR + ((lbank + SW_BANK >= KW) ? 1 : 0);
            end
        end
    end

    // ---- line buffer: KW banks of R*DB words; one read port per window row ----------
    // Bank b holds window column (b - lbank) mod KW, one word further on when that column
    // wrapped past the end of the bank row; window row kh lives at base (tbase + kh*DB).
    wire [KH*KW*PW-1:0] bank_q;  // [kh][bank]
    genvar gb, gk;
    generate
        for (gb = 0; gb < KW; gb = gb + 1) begin : g_bank
            reg [PW-1:0] mem [0:R*DB-1];
            wire [AB-1:0] col = laddr[AB-1:0] + ((gb < lbank) ? 1'b1 : 1'b0);
            always @(posedge clk)
                if (accept && wbank == gb)
                    mem[waddr] <= s_data;
            for (gk = 0; gk < KH; gk = gk + 1) begin : g_row
                reg [PW-1:0] q;
                always @(posedge clk)
                    if (en)
                        q <= mem[base_add(tbase, gk * DB) + col];
                assign bank_q[(gk*KW+gb)*PW +: PW] = q;
            end
        end
    endgenerate

    // ---- stage 1: bank outputs, and per window pixel where it comes from ---------------
    // q_sel = bank index, or KW for a padded position (a constant, not a bank).
    reg                  q_valid;
    reg [KH*KW*SL-1:0]   q_sel;
    integer k, kk;
    always @(posedge clk) begin
        if (!rst_n) begin
            q_valid <= 1'b0;
        end else if (en) begin
            q_valid <= emit;
            for (k = 0; k < KH; k = k + 1)
                for (kk = 0; kk < KW; kk = kk + 1)
                    q_sel[(k*KW+kk)*SL +: SL] <=
                        ((top + k < 0) || (top + k > H - 1) || (left + kk < 0)
                         || (left + kk > W - 1)) ? KW
                        : (BANK_FIXED >= 0) ? bank_add(BANK_FIXED, kk) : bank_add(lbank, kk);
        end
    end

    // ---- stage 2: rotate the banks into window order, insert padding ------------------
    reg [KH*KW*PW-1:0] next_win;
    integer kh, kw, b;
    always @* begin
        next_win = {KH*KW*PW{1'b0}};
        for (kh = 0; kh < KH; kh = kh + 1)
            for (kw = 0; kw < KW; kw = kw + 1) begin
                next_win[(kh*KW+kw)*PW +: PW] = PAD;
                if (BANK_FIXED >= 0) begin  // fixed rotation: a pixel or the padding
                    if (q_sel[(kh*KW+kw)*SL +: SL] != KW)
                        next_win[(kh*KW+kw)*PW +: PW] =
                            bank_q[(kh*KW+bank_add(BANK_FIXED, kw))*PW +: PW];
                end else begin
                    for (b = 0; b < KW; b = b + 1)
                        if (q_sel[(kh*KW+kw)*SL +: SL] == b)
                            next_win[(kh*KW+kw)*PW +: PW] = bank_q[(kh*KW+b)*PW +: PW];
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

// hlsgen_fetch: line buffer of a folded (serial or multiplexed) sliding-window layer: the
// window is fetched one tap per cycle from a single-port memory into `win`, which the layer
// captures when it starts a word.  Hand-written primitive, parameterised by hlsgen; see
// docs/hardware.md ("Exact timing") for the contract.
//
// Writer: as hlsgen_window, but one memory of R row slots of W pixels (pixel (row, col) at
// W * ((global row) mod R) + col); it stays less than R rows ahead of the first row the
// current output reads.
//
// Fetcher: output (i, j) starts once its bottom-right pixel is written and `win` is free
// (empty, or taken in this cycle); tap k = kh*KW + kw is read in cycle start + k (padding:
// PAD), shifted into `win` one cycle later; `win_valid` rises the cycle after the last tap
// arrived: a fetch started at cycle f gives win_valid at f + KH*KW + 1.
// `en` high with win_valid high means the layer takes `win` in this cycle.
module hlsgen_fetch #(
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
    parameter integer AB = 1,           // address bits: clog2(R * W)
    parameter integer TB = 1,           // tap counter bits
    parameter integer CW = 8,           // signed width of row / column positions
    parameter integer GB = 8,           // width of the (wrapping) global row counters
    parameter [PW-1:0] PAD = {PW{1'b0}},
    parameter integer TBASE_INIT = 0,   // W * ((-PT) mod R): base of row -PT of frame 0
    parameter integer TBASE_ROW = 0,    // W * (SH mod R)
    parameter integer TBASE_FRAME = 0   // W * ((H - (HO-1)*SH) mod R)
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
    reg  [AB-1:0] wbase;  // W * slot of that row
    reg  [AB-1:0] waddr;  // wbase + column

    // ---- fetcher state ------------------------------------------------------------------
    reg  [CW-1:0]        orow, ocol;  // output pixel (i, j)
    reg  signed [CW-1:0] top, left;   // i*SH - PT, j*SW - PL
    reg  [GB-1:0]        fbase;       // global row of row 0 of the fetcher's frame
    reg  [AB-1:0]        tbase;       // W * slot of row `top` (virtual if top < 0)
    reg                  fetching;
    reg  [TB-1:0]        tap;         // tap read in this cycle while fetching
    reg  [CW-1:0]        kh, kw;      // its window row and column
    reg  [AB-1:0]        rbase;       // W * slot of row top + kh

    wire signed [CW-1:0] brow = (top + KH - 1 > H - 1) ? H - 1 : top + KH - 1;
    wire signed [CW-1:0] bcol = (left + KW - 1 > W - 1) ? W - 1 : left + KW - 1;
    wire        [GB-1:0] brow_u = brow;
    wire        [GB-1:0] top_u = (top < 0) ? {CW{1'b0}} : top;
    wire        [GB-1:0] brow_g = fbase + brow_u;
    wire        [GB-1:0] trig_d = wrow - brow_g;
    wire written = ($signed(trig_d) > 0) || ((trig_d == 0) && ($signed(wcol) > bcol));
    wire        [GB-1:0] oldest_g = fbase + top_u;
    wire        [GB-1:0] ahead = wrow - oldest_g;
    assign s_ready = $signed(ahead) < R;
    wire accept = s_valid && s_ready;

    reg  in_flight;  // the last tap's data arrives in this cycle
    wire take = en && win_valid;
    wire start = !fetching && !in_flight && (!win_valid || take) && written;
    wire read = start || fetching;
    wire last_tap = read && (tap == KH * KW - 1);

    function [AB-1:0] base_add(input [AB-1:0] base, input integer inc);
        integer t;
        begin
            t = base + inc;
            base_add = (t >= R * W) ? t - R * W : t;
        end
    endfunction

    always @(posedge clk) begin
        if (!rst_n) begin
            wrow <= {GB{1'b0}};
            wcol <= {CW{1'b0}};
            wbase <= {AB{1'b0}};
            waddr <= {AB{1'b0}};
        end else if (accept) begin
            if (wcol == W - 1) begin
                wcol <= {CW{1'b0}};
                wrow <= wrow + 1'b1;
                wbase <= base_add(wbase, W);
                waddr <= base_add(wbase, W);
            end else begin
                wcol <= wcol + 1'b1;
                waddr <= waddr + 1'b1;
            end
        end
    end

    // ---- the memory: one write port, one read port ----------------------------------
    reg [PW-1:0] mem [0:R*W-1];
    always @(posedge clk)
        if (accept)
            mem[waddr] <= s_data;

    // tap (kh, kw) of the current output: padding, or the pixel at rbase + left + kw
    wire signed [CW-1:0] trow = top + $signed(kh);
    wire signed [CW-1:0] tcol = left + $signed(kw);
    wire pad = (trow < 0) || (trow > H - 1) || (tcol < 0) || (tcol > W - 1);
    wire [AB-1:0] raddr = rbase + tcol[AB-1:0];
    reg  [PW-1:0] q;
    reg           q_pad, q_valid;
    always @(posedge clk)
        if (read)
            q <= mem[raddr];

    // the taps arrive in window order; tap 0 ends at the bottom of `win`
    generate
        if (KH * KW == 1) begin : g_one
            always @(posedge clk)
                if (q_valid)
                    win <= q_pad ? PAD : q;
        end else begin : g_shift
            always @(posedge clk)
                if (q_valid)
                    win <= {q_pad ? PAD : q, win[KH*KW*PW-1:PW]};
        end
    endgenerate

    always @(posedge clk) begin
        if (!rst_n) begin
            fetching <= 1'b0;
            in_flight <= 1'b0;
            q_valid <= 1'b0;
            win_valid <= 1'b0;
            tap <= {TB{1'b0}};
            kh <= {CW{1'b0}};
            kw <= {CW{1'b0}};
            orow <= {CW{1'b0}};
            ocol <= {CW{1'b0}};
            top <= -PT;
            left <= -PL;
            fbase <= {GB{1'b0}};
            tbase <= TBASE_INIT;
            rbase <= TBASE_INIT;
        end else begin
            q_valid <= read;
            q_pad <= pad;
            in_flight <= last_tap;
            if (take)
                win_valid <= 1'b0;
            if (in_flight)
                win_valid <= 1'b1;
            if (read) begin
                if (last_tap) begin
                    fetching <= 1'b0;
                    tap <= {TB{1'b0}};
                    kh <= {CW{1'b0}};
                    kw <= {CW{1'b0}};
                    // next output pixel
                    if (ocol == WO - 1) begin
                        ocol <= {CW{1'b0}};
                        left <= -PL;
                        if (orow == HO - 1) begin
                            orow <= {CW{1'b0}};
                            top <= -PT;
                            fbase <= fbase + H;
                            tbase <= base_add(tbase, TBASE_FRAME);
                            rbase <= base_add(tbase, TBASE_FRAME);
                        end else begin
                            orow <= orow + 1'b1;
                            top <= top + SH;
                            tbase <= base_add(tbase, TBASE_ROW);
                            rbase <= base_add(tbase, TBASE_ROW);
                        end
                    end else begin
                        ocol <= ocol + 1'b1;
                        left <= left + SW;
                        rbase <= tbase;
                    end
                end else begin
                    fetching <= 1'b1;
                    tap <= tap + 1'b1;
                    if (kw == KW - 1) begin
                        kw <= {CW{1'b0}};
                        kh <= kh + 1'b1;
                        rbase <= base_add(rbase, W);
                    end else begin
                        kw <= kw + 1'b1;
                    end
                end
            end
        end
    end
endmodule

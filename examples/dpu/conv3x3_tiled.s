; A 3x3 convolution, 16x16x32 -> 16x16x32, padding 1, ReLU, in two row tiles.
;
; DDR (HWC, int8):
;   0x0000  input    16 x 16 x 32        8192 bytes
;   0x2000  weights  32 x 3 x 3 x 32     9216 bytes (OC, KH, KW, IC)
;   0x4400  bias     32                    32 bytes
;   0x4800  output   16 x 16 x 32        8192 bytes
;
; Output rows 0-7 need input rows -1..8 (row -1 is padding), rows 8-15 need
; input rows 7..16 (row 16 is padding). Each tile has its own input and
; output banks, so the load of tile 1 overlaps the convolution of tile 0 and
; the save of tile 0 overlaps the convolution of tile 1.
; Fixed point: input 2^-7, weights 2^-7, bias 2^-8, output 2^-4:
; shift_bias = 7+7-8 = 6, shift_cut = 7+7-4 = 10.

LOAD bank=w0 addr=0 ddr=0x2000 h=32 w=9 c=32 row_stride=288 pixel_stride=32
LOAD bank=bias addr=0 ddr=0x4400 h=1 w=1 c=32 row_stride=32 pixel_stride=32
LOAD signal=compute bank=fm0 addr=0 ddr=0x0000 h=9 w=16 c=32 row_stride=512 pixel_stride=32   ; input rows 0-8
LOAD signal=compute bank=fm1 addr=0 ddr=0x0e00 h=9 w=16 c=32 row_stride=512 pixel_stride=32   ; input rows 7-15

CONVINIT kernel_h=3 kernel_w=3 stride_h=1 stride_w=1 act=relu round=dpu shift_cut=10 shift_bias=6
CONV wait=load signal=save in_bank=fm0 in_addr=0 in_h=9 in_w=16 ic=32 out_bank=fm8 out_addr=0 oc=32 w_bank=w0 w_addr=0 bias_addr=0 pad_top=1 pad_bottom=0 pad_left=1 pad_right=1
CONV wait=load signal=save in_bank=fm1 in_addr=0 in_h=9 in_w=16 ic=32 out_bank=fm9 out_addr=0 oc=32 w_bank=w0 w_addr=0 bias_addr=0 pad_top=0 pad_bottom=1 pad_left=1 pad_right=1

SAVE wait=compute bank=fm8 addr=0 ddr=0x4800 h=8 w=16 c=32 row_stride=512 pixel_stride=32      ; output rows 0-7
SAVE wait=compute bank=fm9 addr=0 ddr=0x5800 h=8 w=16 c=32 row_stride=512 pixel_stride=32      ; output rows 8-15
END

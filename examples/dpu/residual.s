; A residual block: y = ReLU(conv3x3(x) + x), 8x8x16, padding 1.
;
; DDR (HWC, int8):
;   0x0000  x        8 x 8 x 16          1024 bytes
;   0x0400  weights  16 x 3 x 3 x 16     2304 bytes (OC, KH, KW, IC)
;   0x0d00  bias     16                    16 bytes
;   0x0d40  y        8 x 8 x 16          1024 bytes
;
; The convolution's output has one fraction bit fewer than x, so the add
; shifts it left by one (shift_a=1) and the sum right by one (shift_cut=1)
; into y's format; DPU rounding (halves up).

LOAD bank=w0 addr=0 ddr=0x0400 h=16 w=9 c=16 row_stride=144 pixel_stride=16
LOAD bank=bias addr=0 ddr=0x0d00 h=1 w=1 c=16 row_stride=16 pixel_stride=16
LOAD signal=compute bank=fm0 addr=0 ddr=0x0000 h=8 w=8 c=16 row_stride=128 pixel_stride=16

CONVINIT kernel_h=3 kernel_w=3 act=none round=dpu shift_cut=9 shift_bias=3
CONV wait=load in_bank=fm0 in_addr=0 in_h=8 in_w=8 ic=16 out_bank=fm8 out_addr=0 oc=16 w_bank=w0 w_addr=0 bias_addr=0 pad_top=1 pad_bottom=1 pad_left=1 pad_right=1
ELEWINIT op=add act=relu round=dpu shift_a=1 shift_b=0 shift_cut=1
ELEW signal=save in_bank=fm8 in_addr=0 in2_bank=fm0 in2_addr=0 out_bank=fm9 out_addr=0 h=8 w=8 c=16

SAVE wait=compute bank=fm9 addr=0 ddr=0x0d40 h=8 w=8 c=16 row_stride=128 pixel_stride=16
END

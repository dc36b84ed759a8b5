; conv 3x3 (8x8x16 -> 8x8x32, padding 1) + ReLU, then 2x2 max-pool, stride 2.
;
; DDR (HWC, int8):
;   0x0000  input    8 x 8 x 16          1024 bytes
;   0x0400  weights  32 x 3 x 3 x 16     4608 bytes (OC, KH, KW, IC)
;   0x1600  bias     32                    32 bytes
;   0x1640  output   4 x 4 x 32           512 bytes
;
; The compute engine runs CONV then POOL in order, so POOL needs no token to
; read the convolution's output; only the last LOAD signals compute and only
; POOL signals save.

LOAD bank=w0 addr=0 ddr=0x0400 h=32 w=9 c=16 row_stride=144 pixel_stride=16
LOAD bank=bias addr=0 ddr=0x1600 h=1 w=1 c=32 row_stride=32 pixel_stride=32
LOAD signal=compute bank=fm0 addr=0 ddr=0x0000 h=8 w=8 c=16 row_stride=128 pixel_stride=16

CONVINIT kernel_h=3 kernel_w=3 act=relu round=dpu shift_cut=11 shift_bias=4
CONV wait=load in_bank=fm0 in_addr=0 in_h=8 in_w=8 ic=16 out_bank=fm8 out_addr=0 oc=32 w_bank=w0 w_addr=0 bias_addr=0 pad_top=1 pad_bottom=1 pad_left=1 pad_right=1
POOLINIT kernel_h=2 kernel_w=2 stride_h=2 stride_w=2 type=max
POOL signal=save in_bank=fm8 in_addr=0 in_h=8 in_w=8 c=32 out_bank=fm1 out_addr=0

SAVE wait=compute bank=fm1 addr=0 ddr=0x1640 h=4 w=4 c=32 row_stride=128 pixel_stride=32
END

; A MobileNet block: depthwise 3x3 (8x8x32, padding 1) + ReLU6, then
; pointwise 1x1 (32 -> 64) + ReLU6.
;
; DDR (HWC, int8):
;   0x0000  input               8 x 8 x 32        2048 bytes
;   0x0800  depthwise weights   3 x 3 x 32         288 bytes (KH, KW, C)
;   0x0920  depthwise bias      32                  32 bytes
;   0x0940  pointwise weights   64 x 1 x 1 x 32   2048 bytes (OC, KH, KW, IC)
;   0x1140  pointwise bias      64                  64 bytes
;   0x1180  output              8 x 8 x 64        4096 bytes
;
; Both layers' outputs have 4 fraction bits, so ReLU6 clips at 6 * 2^4 = 96
; (act_fix=4). The pointwise layer rounds halves to even, as Python 3 does.
; The bias bank holds the depthwise bias at line 0 and the pointwise bias at
; line 8, far enough apart for the narrowest bank (8 lanes).

LOAD bank=w0 addr=0 ddr=0x0800 h=3 w=3 c=32 row_stride=96 pixel_stride=32
LOAD bank=bias addr=0 ddr=0x0920 h=1 w=1 c=32 row_stride=32 pixel_stride=32
LOAD bank=w0 addr=64 ddr=0x0940 h=64 w=1 c=32 row_stride=32 pixel_stride=32
LOAD bank=bias addr=8 ddr=0x1140 h=1 w=1 c=64 row_stride=64 pixel_stride=64
LOAD signal=compute bank=fm0 addr=0 ddr=0x0000 h=8 w=8 c=32 row_stride=256 pixel_stride=32

DWINIT kernel_h=3 kernel_w=3 act=relu6 act_fix=4 round=dpu shift_cut=7 shift_bias=2
DPTWISE wait=load in_bank=fm0 in_addr=0 in_h=8 in_w=8 c=32 out_bank=fm8 out_addr=0 w_bank=w0 w_addr=0 bias_addr=0 pad_top=1 pad_bottom=1 pad_left=1 pad_right=1
CONVINIT kernel_h=1 kernel_w=1 act=relu6 act_fix=4 round=py3 shift_cut=8 shift_bias=3
CONV signal=save in_bank=fm8 in_addr=0 in_h=8 in_w=8 ic=32 out_bank=fm1 out_addr=0 oc=64 w_bank=w0 w_addr=64 bias_addr=8

SAVE wait=compute bank=fm1 addr=0 ddr=0x1180 h=8 w=8 c=64 row_stride=512 pixel_stride=64
END

; The tiled 3x3 convolution of conv3x3_tiled.s (same DDR layout, same
; result) split over two cores: each core loads the weights and one row
; tile, convolves it and saves it. Run it on a target with two or more cores
; (zcu104, zu9); both cores share the DDR bus.

; core 0: output rows 0-7
LOAD bank=w0 addr=0 ddr=0x2000 h=32 w=9 c=32 row_stride=288 pixel_stride=32
LOAD bank=bias addr=0 ddr=0x4400 h=1 w=1 c=32 row_stride=32 pixel_stride=32
LOAD signal=compute bank=fm0 addr=0 ddr=0x0000 h=9 w=16 c=32 row_stride=512 pixel_stride=32
CONVINIT kernel_h=3 kernel_w=3 act=relu round=dpu shift_cut=10 shift_bias=6
CONV wait=load signal=save in_bank=fm0 in_addr=0 in_h=9 in_w=16 ic=32 out_bank=fm8 out_addr=0 oc=32 w_bank=w0 w_addr=0 bias_addr=0 pad_top=1 pad_left=1 pad_right=1
SAVE wait=compute bank=fm8 addr=0 ddr=0x4800 h=8 w=16 c=32 row_stride=512 pixel_stride=32
END

; core 1: output rows 8-15
LOAD bank=w0 addr=0 ddr=0x2000 h=32 w=9 c=32 row_stride=288 pixel_stride=32
LOAD bank=bias addr=0 ddr=0x4400 h=1 w=1 c=32 row_stride=32 pixel_stride=32
LOAD signal=compute bank=fm0 addr=0 ddr=0x0e00 h=9 w=16 c=32 row_stride=512 pixel_stride=32
CONVINIT kernel_h=3 kernel_w=3 act=relu round=dpu shift_cut=10 shift_bias=6
CONV wait=load signal=save in_bank=fm0 in_addr=0 in_h=9 in_w=16 ic=32 out_bank=fm8 out_addr=0 oc=32 w_bank=w0 w_addr=0 bias_addr=0 pad_bottom=1 pad_left=1 pad_right=1
SAVE wait=compute bank=fm8 addr=0 ddr=0x5800 h=8 w=16 c=32 row_stride=512 pixel_stride=32
END
